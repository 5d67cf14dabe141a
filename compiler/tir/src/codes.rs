//! Diagnostic codes of IR text parsing and verification (E05xx).
