//! Delimiter balancing, run on the token stream before parsing.
//!
//! The grammar then sees a stream whose `()`, `[]` and `{}` always pair up,
//! which makes recovery simple (skipping "one token tree" is always
//! possible) and bounds how deep the parser can recurse: nesting beyond
//! [`MAX_DEPTH`] is cut out and replaced by one [`Token::Error`].
//!
//! Repairs follow what the grammar allows, so the report lands where the
//! mistake most likely is: `(` and `[` never contain `;`, `{` or a statement
//! keyword, and `kernel`/`fn` only appear at the top level, so meeting one
//! of those closes the groups it cannot be inside. Inserted closers are
//! zero-width; the parser stays silent about errors at their positions,
//! since they were reported here.

use chumsky::span::SimpleSpan;
use tessera_diagnostics::{Diagnostic, FileId, Span};

use crate::codes;
use crate::lexer::Token;

/// Deepest nesting of delimiters plus prefix operators the parser accepts.
pub(crate) const MAX_DEPTH: usize = 256;

pub(crate) struct Balanced<'s> {
    pub tokens: Vec<(Token<'s>, SimpleSpan)>,
    /// Byte offsets where closers were inserted or input was cut.
    pub repaired_at: Vec<usize>,
    pub diagnostics: Vec<Diagnostic>,
}

fn closer_of(open: &Token<'_>) -> Token<'static> {
    match open {
        Token::LParen => Token::RParen,
        Token::LBracket => Token::RBracket,
        _ => Token::RBrace,
    }
}

fn opener_of(close: &Token<'_>) -> Token<'static> {
    match close {
        Token::RParen => Token::LParen,
        Token::RBracket => Token::LBracket,
        _ => Token::LBrace,
    }
}

/// Whether `token` can never appear inside a `(` or `[` group.
fn ends_expression_group(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Semi
            | Token::LBrace
            | Token::Let
            | Token::For
            | Token::While
            | Token::If
            | Token::Return
            | Token::Kernel
            | Token::Fn
    )
}

/// Balances `input`. `truncated` says the input was cut short by a problem
/// already reported (a block comment never closed swallowed the rest of
/// the file): groups still open at the end then lost their closers to it,
/// so they are closed without a report of their own.
pub(crate) fn balance<'s>(
    file: FileId,
    input: Vec<(Token<'s>, std::ops::Range<usize>)>,
    truncated: bool,
) -> Balanced<'s> {
    let mut out =
        Balanced { tokens: Vec::with_capacity(input.len()), repaired_at: Vec::new(), diagnostics: Vec::new() };
    // Open groups: the opener token and its span.
    let mut stack: Vec<(Token<'s>, SimpleSpan)> = Vec::new();
    let mut prefix_run = 0usize;
    let mut reported_depth = false;
    let mut tokens = input.into_iter().map(|(t, r)| (t, SimpleSpan::from(r))).peekable();

    while let Some((token, span)) = tokens.next() {
        // Close groups that `token` cannot be inside of.
        let closes_all_braces = matches!(token, Token::Kernel | Token::Fn);
        while let Some((open, open_span)) = stack.last() {
            let must_close = match open {
                Token::LBrace => closes_all_braces,
                _ => ends_expression_group(&token),
            };
            if !must_close {
                break;
            }
            let (open, open_span) = (open.clone(), *open_span);
            stack.pop();
            out.unclosed(file, &open, open_span, Some((&token, span)));
        }

        let is_prefix = matches!(token, Token::Minus | Token::Bang);
        prefix_run = if is_prefix { prefix_run + 1 } else { 0 };

        match token {
            Token::LParen | Token::LBracket | Token::LBrace if stack.len() + prefix_run >= MAX_DEPTH => {
                // Cut this group out whole, however deep it goes.
                let mut depth = 1usize;
                let mut end = span.end;
                while depth > 0 {
                    let Some((inner, inner_span)) = tokens.next() else { break };
                    end = inner_span.end;
                    match inner {
                        Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
                        Token::RParen | Token::RBracket | Token::RBrace => depth -= 1,
                        _ => {}
                    }
                }
                out.too_deep(file, span, &mut reported_depth);
                out.tokens.push((Token::Error, SimpleSpan::from(span.start..end)));
            }
            Token::LParen | Token::LBracket | Token::LBrace => {
                stack.push((token.clone(), span));
                out.tokens.push((token, span));
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                let wanted = opener_of(&token);
                match stack.iter().rposition(|(open, _)| *open == wanted) {
                    Some(index) => {
                        while stack.len() > index + 1 {
                            if let Some((open, open_span)) = stack.pop() {
                                out.unclosed(file, &open, open_span, Some((&token, span)));
                            }
                        }
                        stack.pop();
                        out.tokens.push((token, span));
                    }
                    None if matches!(stack.last(), Some((Token::LParen | Token::LBracket, _))) => {
                        // `(1, ]`: the wrong closer for an expression group;
                        // read it as the right one.
                        if let Some((open, open_span)) = stack.pop() {
                            let close = closer_of(&open);
                            out.repaired_at.push(span.start);
                            out.diagnostics.push(
                                Diagnostic::error(
                                    codes::UNMATCHED_CLOSING_DELIMITER,
                                    format!("mismatched closing delimiter: expected `{close}` to close `{open}`, found `{token}`"),
                                    Span::new(file, span.start, span.end),
                                )
                                .with_label(format!("expected `{close}` here"))
                                .with_secondary(Span::new(file, open_span.start, open_span.end), format!("`{open}` opened here")),
                            );
                            out.tokens.push((close, span));
                        }
                    }
                    None => {
                        out.repaired_at.push(span.start);
                        out.diagnostics.push(
                            Diagnostic::error(
                                codes::UNMATCHED_CLOSING_DELIMITER,
                                format!("expected a statement or item, found unmatched closing delimiter `{token}`"),
                                Span::new(file, span.start, span.end),
                            )
                            .with_label(format!("no `{wanted}` is open here"))
                            .with_help(format!("remove this `{token}`, or add the `{wanted}` it should close")),
                        );
                    }
                }
            }
            Token::Minus | Token::Bang if stack.len() + prefix_run > MAX_DEPTH => {
                out.too_deep(file, span, &mut reported_depth);
            }
            _ => out.tokens.push((token, span)),
        }
    }
    while let Some((open, open_span)) = stack.pop() {
        if truncated {
            let end = out.tokens.last().map_or(open_span.end, |(_, s)| s.end);
            out.repaired_at.push(end);
            out.tokens.push((closer_of(&open), SimpleSpan::from(end..end)));
        } else {
            out.unclosed(file, &open, open_span, None);
        }
    }
    out
}

impl<'s> Balanced<'s> {
    /// Reports `open` as unclosed where `found` (or the end of input) shows
    /// it must have ended, and inserts the missing closer there.
    fn unclosed(
        &mut self,
        file: FileId,
        open: &Token<'_>,
        open_span: SimpleSpan,
        found: Option<(&Token<'_>, SimpleSpan)>,
    ) {
        let close = closer_of(open);
        let end = self.tokens.last().map_or(open_span.end, |(_, s)| s.end);
        let (at, found_desc) = match found {
            Some((token, span)) => (span, token.describe()),
            None => (SimpleSpan::from(end..end), "end of file".to_string()),
        };
        // Report only the first repair at one position: an outer group closed
        // at the same place is a consequence of the inner one.
        if !self.repaired_at.contains(&at.start) {
            self.diagnostics.push(
                Diagnostic::error(
                    codes::UNCLOSED_DELIMITER,
                    format!("unclosed delimiter: expected `{close}` to close `{open}`, found {found_desc}"),
                    Span::new(file, at.start, at.end),
                )
                .with_label(format!("expected `{close}` before this"))
                .with_secondary(
                    Span::new(file, open_span.start, open_span.end),
                    format!("unclosed `{open}` opened here"),
                ),
            );
        }
        self.repaired_at.push(at.start);
        self.tokens.push((close, SimpleSpan::from(at.start..at.start)));
    }

    fn too_deep(&mut self, file: FileId, span: SimpleSpan, reported: &mut bool) {
        self.repaired_at.push(span.start);
        if !*reported {
            *reported = true;
            self.diagnostics.push(
                Diagnostic::error(
                    codes::NESTING_TOO_DEEP,
                    format!("expected at most {MAX_DEPTH} levels of nesting, found more"),
                    Span::new(file, span.start, span.end),
                )
                .with_label("nesting limit exceeded here")
                .with_help("split the expression with `let` bindings"),
            );
        }
    }
}
