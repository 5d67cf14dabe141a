//! The parser's error type and its translation into [`Diagnostic`]s.
//!
//! Chumsky reports "expected one of these, found that" at the furthest
//! position it reached. [`SyntaxError::Unexpected`] keeps that raw form;
//! [`Context::diagnose`] turns it into a diagnostic with a code chosen by what
//! was expected (a `;`, an expression, a type, ...) and with help for the
//! mistakes people make most (Python and Triton habits). Checks that need
//! more than one token (chained comparisons, duplicate clauses) build their
//! diagnostic directly as [`SyntaxError::Custom`].

use chumsky::DefaultExpected;
use chumsky::error::LabelError;
use chumsky::span::SimpleSpan;
use chumsky::util::MaybeRef;
use tessera_diagnostics::{Diagnostic, FileId, Span};

use super::Input;
use crate::codes;
use crate::lexer::Token;

/// One thing the parser would have accepted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expected<'s> {
    Token(Token<'s>),
    /// A named construct: "expression", "type", ...
    Label(&'static str),
    EndOfInput,
}

#[derive(Clone, Debug)]
pub(crate) enum SyntaxError<'s> {
    Unexpected { span: SimpleSpan, expected: Vec<Expected<'s>>, found: Option<Token<'s>> },
    Custom(Box<Diagnostic>),
}

impl<'t, 's: 't> chumsky::error::Error<'t, Input<'t, 's>> for SyntaxError<'s> {
    fn merge(self, other: Self) -> Self {
        match (self, other) {
            (
                SyntaxError::Unexpected { span, mut expected, found },
                SyntaxError::Unexpected { expected: more, found: other_found, .. },
            ) => {
                for e in more {
                    if !expected.contains(&e) {
                        expected.push(e);
                    }
                }
                SyntaxError::Unexpected { span, expected, found: found.or(other_found) }
            }
            (custom @ SyntaxError::Custom(_), _) => custom,
            (_, custom) => custom,
        }
    }
}

impl<'t, 's: 't> LabelError<'t, Input<'t, 's>, DefaultExpected<'t, Token<'s>>> for SyntaxError<'s> {
    fn expected_found<E: IntoIterator<Item = DefaultExpected<'t, Token<'s>>>>(
        expected: E,
        found: Option<MaybeRef<'t, Token<'s>>>,
        span: SimpleSpan,
    ) -> Self {
        let expected = expected
            .into_iter()
            .filter_map(|e| match e {
                DefaultExpected::Token(t) => Some(Expected::Token(t.into_inner())),
                DefaultExpected::EndOfInput => Some(Expected::EndOfInput),
                _ => None,
            })
            .collect();
        SyntaxError::Unexpected { span, expected, found: found.map(MaybeRef::into_inner) }
    }
}

impl<'t, 's: 't> LabelError<'t, Input<'t, 's>, &'static str> for SyntaxError<'s> {
    fn expected_found<E: IntoIterator<Item = &'static str>>(
        expected: E,
        found: Option<MaybeRef<'t, Token<'s>>>,
        span: SimpleSpan,
    ) -> Self {
        SyntaxError::Unexpected {
            span,
            expected: expected.into_iter().map(Expected::Label).collect(),
            found: found.map(MaybeRef::into_inner),
        }
    }

    fn label_with(&mut self, label: &'static str) {
        if let SyntaxError::Unexpected { expected, .. } = self {
            expected.clear();
            expected.push(Expected::Label(label));
        }
    }
}

/// What diagnostics need to know about the file beyond one error.
pub(crate) struct Context<'t, 's> {
    pub file: FileId,
    pub text: &'s str,
    pub tokens: &'t [(Token<'s>, SimpleSpan)],
    pub repaired_at: &'t [usize],
    pub suspicious_comments: &'t [std::ops::Range<usize>],
}

fn is_operator(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Plus
            | Token::Minus
            | Token::Star
            | Token::Slash
            | Token::Percent
            | Token::Shl
            | Token::Shr
            | Token::Amp
            | Token::Pipe
            | Token::Caret
            | Token::AndAnd
            | Token::OrOr
            | Token::EqEq
            | Token::Ne
            | Token::Lt
            | Token::Le
            | Token::Gt
            | Token::Ge
            | Token::Assign
            | Token::PlusEq
            | Token::MinusEq
            | Token::StarEq
            | Token::SlashEq
            | Token::PercentEq
            | Token::Dot
            | Token::As
    )
}

fn describe_expected(e: &Expected<'_>) -> String {
    match e {
        Expected::Token(t) => format!("`{t}`"),
        Expected::Label(l) => match *l {
            "expression" => "an expression".to_string(),
            "type" => "a type".to_string(),
            "identifier" => "an identifier".to_string(),
            "statement" => "a statement".to_string(),
            "item" => "an item (`kernel`, `fn` or `const`)".to_string(),
            "clause" => "a clause (`grid`, `tune`, `key` or `require`)".to_string(),
            other => other.to_string(),
        },
        Expected::EndOfInput => "end of file".to_string(),
    }
}

/// "a", "a or b", "a, b or c".
fn one_of(items: &[String]) -> String {
    match items {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl<'t, 's> Context<'t, 's> {
    pub fn span(&self, s: SimpleSpan) -> Span {
        Span::new(self.file, s.start, s.end)
    }

    /// Index of the first token starting at or after `offset`.
    pub fn token_at(&self, offset: usize) -> usize {
        self.tokens.partition_point(|(_, s)| s.start < offset)
    }

    /// The token before the one starting at `offset`.
    pub fn token_before(&self, offset: usize) -> Option<&'t (Token<'s>, SimpleSpan)> {
        self.token_at(offset).checked_sub(1).and_then(|i| self.tokens.get(i))
    }

    /// Whether the token at `offset` is the first on its line.
    pub fn starts_line(&self, offset: usize) -> bool {
        match self.token_before(offset) {
            Some((_, prev)) => self.text.get(prev.end..offset).is_none_or(|gap| gap.contains('\n')),
            None => true,
        }
    }

    /// Help for a statement cut short by a `//` that was meant as division.
    fn floor_division_help(&self, from: usize, to: usize) -> Option<&'static str> {
        self.suspicious_comments.iter().any(|c| c.start >= from && c.start < to.max(from + 1)).then_some(
            "`//` starts a comment in Tessera, so the rest of that line was ignored; integer division is `/`",
        )
    }

    /// The diagnostic for a `;` missing before the token at `at`.
    pub fn missing_semicolon(&self, what: &str, found: &Token<'_>, at: SimpleSpan) -> Diagnostic {
        let prev = self.token_before(at.start).map_or(at, |(_, s)| *s);
        let d = Diagnostic::error(
            codes::MISSING_SEMICOLON,
            format!("expected `;` after {what}, found {}", found.describe()),
            self.span(prev),
        )
        .with_label("expected `;` after this")
        .with_secondary(self.span(at), "unexpected here");
        match self.floor_division_help(prev.end, at.start) {
            Some(help) => d.with_help(help),
            None => d.with_help(format!("add `;` at the end of the {what}")),
        }
    }

    /// The innermost group open at `offset` that `closer` would close.
    fn open_group(&self, offset: usize, closer: &Token<'_>) -> Option<SimpleSpan> {
        let mut stack: Vec<(&Token<'_>, SimpleSpan)> = Vec::new();
        for (token, span) in self.tokens.iter().take(self.token_at(offset)) {
            match token {
                Token::LParen | Token::LBracket | Token::LBrace => stack.push((token, *span)),
                Token::RParen | Token::RBracket | Token::RBrace => {
                    stack.pop();
                }
                _ => {}
            }
        }
        let opener = match closer {
            Token::RParen => Token::LParen,
            Token::RBracket => Token::LBracket,
            _ => Token::LBrace,
        };
        stack.last().filter(|(t, _)| **t == opener).map(|(_, s)| *s)
    }

    /// Turns a parser error into a diagnostic; `None` when the position was
    /// already reported by delimiter balancing.
    pub fn diagnose(&self, error: SyntaxError<'s>) -> Option<Diagnostic> {
        let (span, expected, found) = match error {
            SyntaxError::Custom(d) => return Some(*d),
            SyntaxError::Unexpected { span, expected, found } => (span, expected, found),
        };
        if self.repaired_at.contains(&span.start) {
            return None;
        }
        let found_desc = found.as_ref().map_or_else(|| "end of file".to_string(), Token::describe);
        let prev = self.token_before(span.start).map(|(t, s)| (t, *s));
        let expects_token = |t: &Token<'_>| expected.contains(&Expected::Token(t.clone()));
        let expects_label = |l: &str| expected.iter().any(|e| matches!(e, Expected::Label(x) if *x == l));
        let at = self.span(span);

        // Habits from Python and Triton first: they explain the real mistake.
        if let Some(d) = self.python_habit(at, found.as_ref(), prev.map(|(t, _)| t), &expected) {
            return Some(d);
        }
        if found == Some(Token::Assign) && expects_token(&Token::LBrace) {
            return Some(
                Diagnostic::error(codes::ASSIGNMENT_IN_CONDITION, "expected `{` after the condition, found `=`", at)
                    .with_label("assignment is not an expression")
                    .with_help("to compare, write `==`"),
            );
        }
        if let Some(found_token) = &found
            && expects_token(&Token::Semi)
        {
            return Some(self.missing_semicolon("statement", found_token, span));
        }

        let mut shown: Vec<String> = Vec::new();
        // After a complete operand, `(`, `[` and `.` would continue it; when a
        // separator or closer was also possible, those are what to mention.
        let after_operand = [Token::Comma, Token::RParen, Token::RBracket, Token::RBrace].iter().any(expects_token);
        let structural: Vec<&Expected<'_>> = expected
            .iter()
            .filter(|e| match e {
                Expected::Token(t) => {
                    !(is_operator(t) || after_operand && matches!(t, Token::LParen | Token::LBracket))
                }
                _ => true,
            })
            .collect();
        let list: Vec<&Expected<'_>> = if structural.is_empty() { expected.iter().collect() } else { structural };
        for e in list {
            let text = describe_expected(e);
            if !shown.contains(&text) {
                shown.push(text);
            }
        }
        let (code, label) = if expects_label("expression") {
            (codes::EXPECTED_EXPRESSION, "expected an expression here")
        } else if expects_label("type") {
            (codes::EXPECTED_TYPE, "expected a type here")
        } else if expects_label("item") {
            (codes::EXPECTED_ITEM, "not allowed at the top level")
        } else if expects_label("identifier") {
            (codes::EXPECTED_IDENTIFIER, "expected a name here")
        } else if expects_label("clause") && matches!(found, Some(Token::Ident(_))) {
            (codes::INVALID_CLAUSE, "unknown clause")
        } else {
            (codes::UNEXPECTED_TOKEN, "unexpected here")
        };
        let mut d =
            Diagnostic::error(code, format!("expected {}, found {found_desc}", one_of(&shown)), at).with_label(label);
        // Point at the group a closer would end.
        for closer in [Token::RParen, Token::RBracket, Token::RBrace] {
            if expects_token(&closer)
                && let Some(open) = self.open_group(span.start, &closer)
            {
                d = d.with_secondary(self.span(open), format!("to close this `{}`", opener_text(&closer)));
                break;
            }
        }
        d.help = match (code, &found) {
            (c, Some(t)) if c == codes::EXPECTED_IDENTIFIER && t.is_keyword() => {
                Some(format!("`{t}` is a keyword and cannot be used as a name"))
            }
            (c, _) if c == codes::EXPECTED_ITEM => {
                Some("a file holds `kernel`s, `fn` helpers and `const`s; statements belong in their bodies".into())
            }
            (c, _) if c == codes::INVALID_CLAUSE => {
                Some("the clauses after a kernel's parameters are `grid(...)`, `tune(...)` and `key(...)`".into())
            }
            (c, Some(Token::Star)) if c == codes::EXPECTED_EXPRESSION && matches!(prev, Some((Token::Star, _))) => {
                Some("there is no `**` operator: multiply, or use `exp2(y * log2(x))`".into())
            }
            _ => self.floor_division_help(prev.map_or(0, |(_, s)| s.end), span.start).map(str::to_string),
        };
        Some(d)
    }

    /// Python spellings of Tessera constructs.
    fn python_habit(
        &self,
        at: Span,
        found: Option<&Token<'_>>,
        prev: Option<&Token<'_>>,
        expected: &[Expected<'_>],
    ) -> Option<Diagnostic> {
        let error = |message: String, help: &str| {
            Some(Diagnostic::error(codes::PYTHON_SYNTAX, message, at).with_label("Python syntax").with_help(help))
        };
        let expects_brace = expected.contains(&Expected::Token(Token::LBrace));
        match (found, prev) {
            (Some(Token::Ident("def")), _) => error(
                "expected `kernel`, `fn` or `const`, found Python's `def`".into(),
                "write `fn name(params) { ... }` for a helper or `kernel name(params) { ... }` for a kernel",
            ),
            (Some(Token::Colon), _) if expects_brace => error(
                "expected `{`, found `:`: blocks are written in braces".into(),
                "write `{ ... }` around the block instead of `:` and indentation",
            ),
            (Some(Token::Ident("elif")), _) | (_, Some(Token::Ident("elif"))) => {
                error("expected `else if`, found Python's `elif`".into(), "write `else if`")
            }
            (Some(Token::Ident(op @ ("and" | "or" | "not"))), _)
            | (_, Some(Token::Ident(op @ ("and" | "or" | "not")))) => {
                let rust = match *op {
                    "and" => "&&",
                    "or" => "||",
                    _ => "!",
                };
                error(format!("expected an operator, found Python's `{op}`"), &format!("write `{rust}`"))
            }
            _ => None,
        }
    }
}

fn opener_text(closer: &Token<'_>) -> &'static str {
    match closer {
        Token::RParen => "(",
        Token::RBracket => "[",
        _ => "{",
    }
}
