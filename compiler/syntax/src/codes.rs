//! Diagnostic codes of the lexer and parser (E00xx).

/// A character that starts no token (`#`, `$`, `~`, a non-ASCII symbol).
pub const UNKNOWN_CHARACTER: &str = "E0001";
/// A string literal without its closing `"` on the same line.
pub const UNTERMINATED_STRING: &str = "E0002";
/// A `/*` block comment without its `*/`.
pub const UNTERMINATED_COMMENT: &str = "E0003";
/// A backslash escape other than `\"`, `\\` and `\n` in a string.
pub const INVALID_ESCAPE: &str = "E0004";
/// A malformed number: `0x` without digits, `12abc`, `1e`, `.5`.
pub const INVALID_NUMBER: &str = "E0005";
/// An integer literal that does not fit in 64 bits.
pub const INTEGER_TOO_LARGE: &str = "E0006";
/// A token that fits nowhere in the grammar at that point.
pub const UNEXPECTED_TOKEN: &str = "E0007";
/// A statement or item that does not end with `;`.
pub const MISSING_SEMICOLON: &str = "E0008";
/// An opening `(`, `[` or `{` that is never closed.
pub const UNCLOSED_DELIMITER: &str = "E0009";
/// A closing `)`, `]` or `}` that closes nothing.
pub const UNMATCHED_CLOSING_DELIMITER: &str = "E0010";
/// An expression was required (after an operator, `=`, `return`, ...).
pub const EXPECTED_EXPRESSION: &str = "E0011";
/// A type was required (after `:`, `->` or `as`).
pub const EXPECTED_TYPE: &str = "E0012";
/// A name was required (after `let`, `fn`, `kernel`, `for`, `.`, ...).
pub const EXPECTED_IDENTIFIER: &str = "E0013";
/// Something other than `kernel`, `fn` or `const` at the top level of a file.
pub const EXPECTED_ITEM: &str = "E0014";
/// `a < b < c`: comparisons do not chain.
pub const CHAINED_COMPARISON: &str = "E0015";
/// A kernel clause (`grid`, `tune`, `key`, `require`) written twice, or an unknown clause.
pub const INVALID_CLAUSE: &str = "E0016";
/// The left side of `=` or `+=` is not a variable name.
pub const INVALID_ASSIGNMENT_TARGET: &str = "E0017";
/// `tl.load(...)`: Triton's module prefix; builtins are global here.
pub const TL_PREFIX: &str = "E0018";
/// `=` where a condition was expected: probably `==`.
pub const ASSIGNMENT_IN_CONDITION: &str = "E0019";
/// Python syntax: `def`, `elif`, `and`/`or`/`not`, `:` before a block, `**`.
pub const PYTHON_SYNTAX: &str = "E0020";
/// Nesting (parentheses, blocks, unary operators, operator chains, `else
/// if` chains) beyond the parser's limits.
pub const NESTING_TOO_DEEP: &str = "E0021";
/// A method name after `.` without an argument list: Tessera has no fields.
pub const MISSING_METHOD_CALL: &str = "E0022";

/// Every code of this crate with a one-line summary, for `tessera explain`.
pub const ALL: &[(&str, &str)] = &[
    (UNKNOWN_CHARACTER, "unknown character"),
    (UNTERMINATED_STRING, "unterminated string literal"),
    (UNTERMINATED_COMMENT, "unterminated block comment"),
    (INVALID_ESCAPE, "unknown escape sequence in a string literal"),
    (INVALID_NUMBER, "malformed number literal"),
    (INTEGER_TOO_LARGE, "integer literal does not fit in 64 bits"),
    (UNEXPECTED_TOKEN, "unexpected token"),
    (MISSING_SEMICOLON, "missing `;`"),
    (UNCLOSED_DELIMITER, "unclosed delimiter"),
    (UNMATCHED_CLOSING_DELIMITER, "closing delimiter without an opening one"),
    (EXPECTED_EXPRESSION, "expected an expression"),
    (EXPECTED_TYPE, "expected a type"),
    (EXPECTED_IDENTIFIER, "expected a name"),
    (EXPECTED_ITEM, "expected `kernel`, `fn` or `const` at the top level"),
    (CHAINED_COMPARISON, "comparison operators cannot be chained"),
    (INVALID_CLAUSE, "duplicate or unknown kernel clause"),
    (INVALID_ASSIGNMENT_TARGET, "invalid left-hand side of an assignment"),
    (TL_PREFIX, "Triton `tl.` prefix: builtins are global"),
    (ASSIGNMENT_IN_CONDITION, "`=` in a condition where `==` was meant"),
    (PYTHON_SYNTAX, "Python syntax that Tessera does not use"),
    (NESTING_TOO_DEEP, "nesting too deep"),
    (MISSING_METHOD_CALL, "method name without an argument list"),
];
