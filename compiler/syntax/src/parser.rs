//! The parser: tokens to [`ast::Module`], reporting every error it finds.
//!
//! Parsing runs in three steps: lexing ([`crate::lexer`]), delimiter
//! balancing ([`delimiters`]), which also bounds nesting depth, and the
//! chumsky grammar ([`grammar`]), which recovers at statement level (`;`,
//! `}`), at item level (`kernel`, `fn`, `const`) and inside delimited
//! groups, leaving [`ast::StmtKind::Error`] / [`ast::ExprKind::Error`]
//! where input could not be understood.

mod delimiters;
mod error;
mod grammar;

use chumsky::Parser as _;
use chumsky::input::{Input as _, MappedInput};
use chumsky::span::SimpleSpan;
use tessera_diagnostics::{Diagnostic, FileId, Span};

use crate::ast;
use crate::codes;
use crate::lexer::{self, Token};

/// The token stream the grammar reads.
pub(crate) type Input<'t, 's> = MappedInput<'t, Token<'s>, SimpleSpan, &'t [(Token<'s>, SimpleSpan)]>;

/// Parses one file. Never panics: the result is the best tree that could be
/// recovered, with one diagnostic per problem found, in source order.
pub fn parse(file: FileId, text: &str) -> (ast::Module, Vec<Diagnostic>) {
    let lexed = lexer::lex(file, text);
    let mut diagnostics = lexed.diagnostics;
    // A block comment left open swallows every closer after it; the groups
    // it leaves open are its consequence, not separate mistakes.
    let truncated = diagnostics.iter().any(|d| d.code == codes::UNTERMINATED_COMMENT);
    let balanced = delimiters::balance(file, lexed.tokens, truncated);
    diagnostics.extend(balanced.diagnostics);

    let ctx = error::Context {
        file,
        text,
        tokens: &balanced.tokens,
        repaired_at: &balanced.repaired_at,
        suspicious_comments: &lexed.suspicious_comments,
    };
    let end = text.len();
    let input = balanced.tokens.as_slice().split_token_span(SimpleSpan::from(end..end));
    let (module, errors) = grammar::module(&ctx).parse(input).into_output_errors();
    diagnostics.extend(errors.into_iter().filter_map(|e| ctx.diagnose(e)));
    let module = match module {
        Some(module) => module,
        None => {
            // Recovery accepts any token stream; this is a safety net only.
            if !diagnostics.iter().any(Diagnostic::is_error) {
                diagnostics.push(Diagnostic::error(
                    codes::UNEXPECTED_TOKEN,
                    "expected a `kernel`, `fn` or `const`, found input that could not be parsed",
                    Span::new(file, 0, end),
                ));
            }
            ast::Module::default()
        }
    };
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    diagnostics.dedup_by(|a, b| a.code == b.code && a.span == b.span);
    (module, diagnostics)
}
