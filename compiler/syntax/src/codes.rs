//! Diagnostic codes of the lexer and parser (E00xx).
