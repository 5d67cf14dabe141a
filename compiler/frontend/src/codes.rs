//! Diagnostic codes of the front end (E01xx names, E02xx types and shapes,
//! E03xx compile-time evaluation, E04xx kernel metadata).
