//! Diagnostic codes of the interpreter (E06xx): run-time errors.
