//! The chumsky grammar of Tessera, over a balanced token stream.
//!
//! Built once per [`super::parse`] call. Alternatives are chosen by their
//! first token (keywords, `(`, `[`), so there is no backtracking beyond a
//! token or two: keyword arguments (`axis = 1`) and `else if` look ahead one
//! token. Binary operators are parsed one precedence level at a time with
//! left folds, which keeps the grammar linear in the input.

use chumsky::prelude::*;
use chumsky::span::SimpleSpan;
use tessera_diagnostics::Diagnostic;

use super::Input;
use super::error::{Context, SyntaxError};
use crate::ast::*;
use crate::codes;
use crate::lexer::{Number, Token};

type Extra<'s> = extra::Err<SyntaxError<'s>>;
type P<'t, 's, O> = Boxed<'t, 't, Input<'t, 's>, O, Extra<'s>>;

/// Longest chain of binary operators, postfix operations or casts at one
/// precedence level, and longest `else if` chain: deeper trees would make
/// every later pass that walks them recursive beyond reason.
const MAX_CHAIN: usize = 1024;

fn custom<'s>(d: Diagnostic) -> SyntaxError<'s> {
    SyntaxError::Custom(Box::new(d))
}

fn error_expr(span: Span) -> Expr {
    Expr { kind: ExprKind::Error, span }
}

/// One token or one balanced group: the unit that recovery skips.
fn token_tree<'t, 's: 't>() -> P<'t, 's, ()> {
    recursive(|tt| {
        let group =
            |open: Token<'s>, close: Token<'s>| just(open).then(tt.clone().repeated()).then(just(close)).ignored();
        choice((
            group(Token::LParen, Token::RParen),
            group(Token::LBracket, Token::RBracket),
            group(Token::LBrace, Token::RBrace),
            none_of([Token::LParen, Token::RParen, Token::LBracket, Token::RBracket, Token::LBrace, Token::RBrace])
                .ignored(),
        ))
    })
    .boxed()
}

/// A whole `open ... close` group, for recovery inside delimiters.
fn skip_group<'t, 's: 't>(open: Token<'s>, close: Token<'s>) -> P<'t, 's, ()> {
    just(open).then(token_tree().repeated()).then(just(close)).ignored().boxed()
}

fn ident<'t, 's: 't>(ctx: &'t Context<'t, 's>) -> P<'t, 's, Ident> {
    select! { Token::Ident(name) = e => Ident { name: name.to_string(), span: ctx.span(e.span()) } }
        .labelled("identifier")
        .boxed()
}

/// A contextual keyword such as `grid`: an identifier with a given name.
fn word<'t, 's: 't>(name: &'static str) -> P<'t, 's, ()> {
    select! { Token::Ident(n) if n == name => () }.boxed()
}

fn type_expr<'t, 's: 't>(ctx: &'t Context<'t, 's>) -> P<'t, 's, TypeExpr> {
    just(Token::Star)
        .repeated()
        .count()
        // After `*` the missing piece is still a type (`*` alone is no
        // pointer type), not some other name.
        .then(ident(ctx).labelled("type"))
        .map_with(move |(depth, name), e| TypeExpr {
            pointer_depth: u8::try_from(depth).unwrap_or(u8::MAX),
            name,
            span: ctx.span(e.span()),
        })
        .labelled("type")
        .boxed()
}

/// `;` at the end of a statement or constant. When it is missing and the
/// next token clearly starts something new (a keyword, a `}`, or a token on
/// a new line), the `;` is taken as given and reported, so that the
/// statement itself is kept.
fn semicolon<'t, 's: 't>(ctx: &'t Context<'t, 's>, what: &'static str) -> P<'t, 's, ()> {
    let inserted = any()
        .try_map(move |token: Token<'s>, span: SimpleSpan| {
            let starts_something = matches!(
                token,
                Token::Let
                    | Token::For
                    | Token::While
                    | Token::If
                    | Token::Return
                    | Token::RBrace
                    | Token::Kernel
                    | Token::Fn
                    | Token::Const
            );
            if starts_something || ctx.starts_line(span.start) {
                Ok((token, span))
            } else {
                Err(SyntaxError::Unexpected {
                    span,
                    expected: vec![super::error::Expected::Token(Token::Semi)],
                    found: Some(token),
                })
            }
        })
        .rewind()
        .validate(move |(token, span), _, emitter| emitter.emit(custom(ctx.missing_semicolon(what, &token, span))))
        .ignored();
    just(Token::Semi).ignored().or(inserted).boxed()
}

/// Folds `first op x op y ...` left to right.
fn fold_binary(first: Expr, rest: Vec<(BinOp, Expr)>) -> Expr {
    rest.into_iter().fold(first, |lhs, (op, rhs)| {
        let span = lhs.span.to(rhs.span);
        Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
    })
}

fn too_long(ctx: &Context<'_, '_>, what: &str, span: SimpleSpan) -> Diagnostic {
    Diagnostic::error(
        codes::NESTING_TOO_DEEP,
        format!("expected at most {MAX_CHAIN} chained {what}, found more"),
        ctx.span(span),
    )
    .with_help("split the expression with `let` bindings")
}

/// One left-associative precedence level.
fn binary_level<'t, 's: 't>(
    ctx: &'t Context<'t, 's>,
    operand: P<'t, 's, Expr>,
    op: P<'t, 's, BinOp>,
) -> P<'t, 's, Expr> {
    operand
        .clone()
        .then(op.then(operand).repeated().collect::<Vec<_>>())
        .validate(move |(first, mut rest), e, emitter| {
            if rest.len() > MAX_CHAIN {
                emitter.emit(custom(too_long(ctx, "operators", e.span())));
                rest.truncate(MAX_CHAIN);
            }
            fold_binary(first, rest)
        })
        .boxed()
}

/// Comparisons do not associate: `a < b < c` is reported (and read as
/// `(a < b) < c` to keep going).
fn comparison_level<'t, 's: 't>(
    ctx: &'t Context<'t, 's>,
    operand: P<'t, 's, Expr>,
    op: P<'t, 's, BinOp>,
) -> P<'t, 's, Expr> {
    operand
        .clone()
        .then(op.map_with(|op, e| (op, e.span())).then(operand).repeated().collect::<Vec<_>>())
        .validate(move |(first, mut rest), e, emitter| {
            if let [((first_op, first_span), _), ((second_op, second_span), _), ..] = rest.as_slice() {
                emitter.emit(custom(
                    Diagnostic::error(
                        codes::CHAINED_COMPARISON,
                        format!(
                            "expected `&&` or `||` between comparisons, found a second comparison `{}`",
                            second_op.symbol()
                        ),
                        ctx.span(*second_span),
                    )
                    .with_label("second comparison")
                    .with_secondary(ctx.span(*first_span), format!("first comparison `{}`", first_op.symbol()))
                    .with_help("comparisons do not chain: write `a < b && b < c`"),
                ));
            }
            if rest.len() > MAX_CHAIN {
                emitter.emit(custom(too_long(ctx, "comparisons", e.span())));
                rest.truncate(MAX_CHAIN);
            }
            fold_binary(first, rest.into_iter().map(|((op, _), rhs)| (op, rhs)).collect())
        })
        .boxed()
}

/// A postfix operation: `.name(args)` (args missing is an error) or `[items]`.
#[derive(Clone)]
enum Postfix {
    Method { name: Ident, args: Option<Vec<Arg>> },
    Index(Vec<IndexItem>),
}

/// Triton dtype names and their Tessera spelling, for `tl.float32`.
fn tessera_dtype(triton: &str) -> Option<&'static str> {
    Some(match triton {
        "float32" => "f32",
        "float16" => "f16",
        "bfloat16" => "bf16",
        "float64" => "f64",
        "int1" => "i1",
        "int8" => "i8",
        "int16" => "i16",
        "int32" => "i32",
        "int64" => "i64",
        _ => return None,
    })
}

fn apply_postfix(
    ctx: &Context<'_, '_>,
    base: Expr,
    (postfix, span): (Postfix, SimpleSpan),
    emitter: &mut chumsky::input::Emitter<SyntaxError<'_>>,
) -> Expr {
    let full = base.span.to(ctx.span(span));
    match postfix {
        Postfix::Method { name, args } => {
            if let ExprKind::Name(receiver) = &base.kind
                && receiver.name == "tl"
            {
                let (help, replacement) = match (&args, tessera_dtype(&name.name)) {
                    (None, Some(dtype)) => (format!("drop the `tl.` prefix: the type is written `{dtype}`"), dtype),
                    _ => ("drop the `tl.` prefix: builtins are global".to_string(), name.name.as_str()),
                };
                let replacement = replacement.to_string();
                emitter.emit(custom(
                    Diagnostic::error(
                        codes::TL_PREFIX,
                        format!("expected a builtin name, found Triton's `tl.{}`", name.name),
                        base.span.to(name.span),
                    )
                    .with_label("`tl` is not a module here")
                    .with_help(help),
                ));
                let name = Ident { name: replacement, span: name.span };
                let kind = match args {
                    Some(args) => ExprKind::Call { callee: name, args },
                    None => ExprKind::Name(name),
                };
                return Expr { kind, span: full };
            }
            match args {
                Some(args) => {
                    Expr { kind: ExprKind::Method { receiver: Box::new(base), method: name, args }, span: full }
                }
                None => {
                    emitter.emit(custom(
                        Diagnostic::error(
                            codes::MISSING_METHOD_CALL,
                            format!("expected `(` after method name `{}`, found no argument list", name.name),
                            name.span,
                        )
                        .with_label("a method call needs parentheses")
                        .with_help(field_help(&name.name)),
                    ));
                    error_expr(full)
                }
            }
        }
        Postfix::Index(indices) => Expr { kind: ExprKind::Index { base: Box::new(base), indices }, span: full },
    }
}

pub(crate) fn expression<'t, 's: 't>(ctx: &'t Context<'t, 's>) -> P<'t, 's, Expr> {
    recursive(move |expr| {
        let expr: P<'t, 's, Expr> = expr.boxed();
        let keyword_arg = ident(ctx).then_ignore(just(Token::Assign)).or_not();
        let args = keyword_arg
            .then(expr.clone())
            .map(|(name, value)| Arg { name, value })
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LParen), just(Token::RParen))
            .recover_with(via_parser(
                skip_group(Token::LParen, Token::RParen)
                    .map_with(move |_, e| vec![Arg { name: None, value: error_expr(ctx.span(e.span())) }]),
            ))
            .boxed();

        let literal = select! {
            Token::Number(Number::Int(v)) => ExprKind::Int(v),
            Token::Number(Number::Float(v)) => ExprKind::Float(v),
            Token::True => ExprKind::Bool(true),
            Token::False => ExprKind::Bool(false),
            Token::Str(s) => ExprKind::Str(s),
            Token::None => ExprKind::None,
            Token::Error => ExprKind::Error,
        }
        .map_with(move |kind, e| Expr { kind, span: ctx.span(e.span()) });

        let name_or_call = ident(ctx).then(args.clone().or_not()).map_with(move |(name, args), e| {
            let kind = match args {
                Some(args) => ExprKind::Call { callee: name, args },
                None => ExprKind::Name(name),
            };
            Expr { kind, span: ctx.span(e.span()) }
        });

        // `()`, `(e)`, `(e,)`, `(a, b)`.
        let paren = expr
            .clone()
            .then(just(Token::Comma).ignore_then(expr.clone()).repeated().collect::<Vec<_>>())
            .then(just(Token::Comma).or_not())
            .or_not()
            .delimited_by(just(Token::LParen), just(Token::RParen))
            .map_with(move |items, e| {
                let span = ctx.span(e.span());
                match items {
                    None => Expr { kind: ExprKind::Tuple(Vec::new()), span },
                    Some(((first, rest), None)) if rest.is_empty() => Expr { span, ..first },
                    Some(((first, rest), _)) => {
                        let mut items = vec![first];
                        items.extend(rest);
                        Expr { kind: ExprKind::Tuple(items), span }
                    }
                }
            })
            .recover_with(via_parser(
                skip_group(Token::LParen, Token::RParen).map_with(move |_, e| error_expr(ctx.span(e.span()))),
            ));

        let list = expr
            .clone()
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBracket), just(Token::RBracket))
            .map_with(move |items, e| Expr { kind: ExprKind::Tuple(items), span: ctx.span(e.span()) })
            .recover_with(via_parser(
                skip_group(Token::LBracket, Token::RBracket).map_with(move |_, e| error_expr(ctx.span(e.span()))),
            ));

        let atom = choice((literal, name_or_call, paren, list)).labelled("expression").boxed();

        let index_item = just(Token::Colon).map_with(move |_, e| IndexItem::Full(ctx.span(e.span()))).or(expr
            .clone()
            .map(|e| match e.kind {
                ExprKind::None => IndexItem::NewAxis(e.span),
                _ => IndexItem::Expr(e),
            }));
        let index = index_item
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .at_least(1)
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBracket), just(Token::RBracket))
            .map(Postfix::Index)
            .recover_with(via_parser(
                skip_group(Token::LBracket, Token::RBracket)
                    .map_with(move |_, e| Postfix::Index(vec![IndexItem::Expr(error_expr(ctx.span(e.span())))])),
            ));
        let method = just(Token::Dot)
            .ignore_then(ident(ctx))
            .then(args.or_not())
            .map(|(name, args)| Postfix::Method { name, args });
        let postfix = atom
            .then(method.or(index).map_with(|p, e| (p, e.span())).repeated().collect::<Vec<_>>())
            .validate(move |(atom, mut ops), e, emitter| {
                if ops.len() > MAX_CHAIN {
                    emitter.emit(custom(too_long(ctx, "calls and indexings", e.span())));
                    ops.truncate(MAX_CHAIN);
                }
                ops.into_iter().fold(atom, |base, op| apply_postfix(ctx, base, op, emitter))
            })
            .boxed();

        // Prefix runs are bounded by delimiter balancing, so this is shallow.
        let unary = select! { Token::Minus => UnOp::Neg, Token::Bang => UnOp::Not }
            .map_with(|op, e| (op, e.span()))
            .repeated()
            .collect::<Vec<_>>()
            .then(postfix)
            .map(move |(ops, operand)| {
                ops.into_iter().rev().fold(operand, |operand, (op, span)| Expr {
                    span: ctx.span(span).to(operand.span),
                    kind: ExprKind::Unary { op, operand: Box::new(operand) },
                })
            })
            .boxed();

        let cast = unary
            .then(just(Token::As).ignore_then(type_expr(ctx)).repeated().collect::<Vec<_>>())
            .validate(move |(operand, mut types), e, emitter| {
                if types.len() > MAX_CHAIN {
                    emitter.emit(custom(too_long(ctx, "casts", e.span())));
                    types.truncate(MAX_CHAIN);
                }
                types.into_iter().fold(operand, |operand, ty| Expr {
                    span: operand.span.to(ty.span),
                    kind: ExprKind::Cast { expr: Box::new(operand), ty },
                })
            })
            .boxed();

        let product = binary_level(
            ctx,
            cast,
            select! { Token::Star => BinOp::Mul, Token::Slash => BinOp::Div, Token::Percent => BinOp::Rem }.boxed(),
        );
        let sum = binary_level(ctx, product, select! { Token::Plus => BinOp::Add, Token::Minus => BinOp::Sub }.boxed());
        let shift = binary_level(ctx, sum, select! { Token::Shl => BinOp::Shl, Token::Shr => BinOp::Shr }.boxed());
        let bit_and = binary_level(ctx, shift, select! { Token::Amp => BinOp::BitAnd }.boxed());
        let bit_xor = binary_level(ctx, bit_and, select! { Token::Caret => BinOp::BitXor }.boxed());
        let bit_or = binary_level(ctx, bit_xor, select! { Token::Pipe => BinOp::BitOr }.boxed());
        let comparison = comparison_level(
            ctx,
            bit_or,
            select! {
                Token::EqEq => BinOp::Eq,
                Token::Ne => BinOp::Ne,
                Token::Lt => BinOp::Lt,
                Token::Le => BinOp::Le,
                Token::Gt => BinOp::Gt,
                Token::Ge => BinOp::Ge,
            }
            .boxed(),
        );
        let and = binary_level(ctx, comparison, select! { Token::AndAnd => BinOp::And }.boxed());
        binary_level(ctx, and, select! { Token::OrOr => BinOp::Or }.boxed())
    })
    .boxed()
}

fn block<'t, 's: 't>(ctx: &'t Context<'t, 's>, expr: P<'t, 's, Expr>) -> P<'t, 's, Block> {
    recursive(move |block| {
        let block: P<'t, 's, Block> = block.boxed();
        let semi = semicolon(ctx, "statement");

        let pattern = ident(ctx).map(Pattern::Name).or(ident(ctx)
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LParen), just(Token::RParen))
            .map_with(move |names, e| Pattern::Tuple(names, ctx.span(e.span()))));
        let let_stmt = just(Token::Let)
            .ignore_then(just(Token::Mut).or_not())
            .ignore_then(pattern)
            .then(just(Token::Colon).ignore_then(type_expr(ctx)).or_not())
            .then_ignore(just(Token::Assign))
            .then(expr.clone())
            .then_ignore(semi.clone())
            .map(|((pattern, ty), value)| StmtKind::Let { pattern, ty, value });

        // A condition; `if a = b` is reported and read as `a == b`.
        let cond = expr
            .clone()
            .then(just(Token::Assign).map_with(|_, e| e.span()).then(expr.clone()).or_not())
            .validate(move |(lhs, assign), _, emitter| match assign {
                None => lhs,
                Some((eq_span, rhs)) => {
                    emitter.emit(custom(
                        Diagnostic::error(
                            codes::ASSIGNMENT_IN_CONDITION,
                            "expected a condition, found an assignment `=`",
                            ctx.span(eq_span),
                        )
                        .with_label("assignment is not an expression")
                        .with_help("to compare, write `==`"),
                    ));
                    let span = lhs.span.to(rhs.span);
                    Expr { kind: ExprKind::Binary { op: BinOp::Eq, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
                }
            })
            .boxed();

        let for_stmt = just(Token::For)
            .ignore_then(ident(ctx))
            .then_ignore(just(Token::In))
            .then(expr.clone())
            .then(block.clone())
            .map(|((var, iter), body)| StmtKind::For { var, iter, body });

        let while_stmt = just(Token::While)
            .ignore_then(cond.clone())
            .then(block.clone())
            .map(|(cond, body)| StmtKind::While { cond, body });

        // `if c {} else if d {} else {}`, read as a flat chain so that long
        // chains do not recurse, then nested as the AST wants.
        let else_if = just(Token::Else)
            .ignore_then(just(Token::If))
            .map_with(|_, e| e.span())
            .then(cond.clone())
            .then(block.clone());
        let if_stmt = just(Token::If)
            .ignore_then(cond)
            .then(block.clone())
            .then(else_if.repeated().collect::<Vec<_>>())
            .then(just(Token::Else).ignore_then(block.clone()).or_not())
            .validate(move |(((cond, then_block), mut chain), mut else_block), e, emitter| {
                if chain.len() > MAX_CHAIN {
                    emitter.emit(custom(too_long(ctx, "`else if` branches", e.span())));
                    chain.truncate(MAX_CHAIN);
                }
                for ((if_span, cond), then_block) in chain.into_iter().rev() {
                    let span = ctx.span(if_span).to(else_block.as_ref().map_or(then_block.span, |b| b.span));
                    let stmt = Stmt { kind: StmtKind::If { cond, then_block, else_block }, span };
                    else_block = Some(Block { stmts: vec![stmt], span });
                }
                StmtKind::If { cond, then_block, else_block }
            });

        let return_stmt =
            just(Token::Return).ignore_then(expr.clone().or_not()).then_ignore(semi.clone()).map(StmtKind::Return);

        let assign_op = select! {
            Token::Assign => None,
            Token::PlusEq => Some(BinOp::Add),
            Token::MinusEq => Some(BinOp::Sub),
            Token::StarEq => Some(BinOp::Mul),
            Token::SlashEq => Some(BinOp::Div),
            Token::PercentEq => Some(BinOp::Rem),
        };
        let expr_stmt = expr
            .clone()
            .then(assign_op.map_with(|op, e| (op, e.span())).then(expr.clone()).or_not())
            .then_ignore(semi)
            .validate(move |(lhs, assign), _, emitter| match assign {
                None => StmtKind::Expr(lhs),
                Some(((op, op_span), value)) => match lhs.kind {
                    ExprKind::Name(target) => StmtKind::Assign { target, op, value },
                    ExprKind::Error => StmtKind::Error,
                    _ => {
                        let symbol = op.map_or("=".to_string(), |op| format!("{}=", op.symbol()));
                        emitter.emit(custom(
                            Diagnostic::error(
                                codes::INVALID_ASSIGNMENT_TARGET,
                                format!("expected a variable name before `{symbol}`, found an expression"),
                                lhs.span,
                            )
                            .with_label("cannot assign to this")
                            .with_secondary(ctx.span(op_span), "assignment here")
                            .with_help(
                                "only variables can be assigned; to write memory use `store(ptr, value)`, \
                                 to compare use `==`",
                            ),
                        ));
                        StmtKind::Error
                    }
                },
            });

        // Skip the broken statement: its first token tree, then up to a `;`
        // or a `{ }` block (taken), a `}` or a keyword that starts the next
        // statement.
        let stop = [Token::Semi, Token::Let, Token::For, Token::While, Token::If, Token::Return, Token::RBrace];
        let recovery = token_tree()
            .then(none_of(stop).and_is(just(Token::LBrace).not()).rewind().ignore_then(token_tree()).repeated())
            .then(just(Token::Semi).ignored().or(skip_group(Token::LBrace, Token::RBrace)).or_not())
            .map_with(move |_, e| Stmt { kind: StmtKind::Error, span: ctx.span(e.span()) });

        let stmt = choice((let_stmt, for_stmt, while_stmt, if_stmt, return_stmt, expr_stmt))
            .map_with(move |kind, e| Stmt { kind, span: ctx.span(e.span()) })
            .labelled("statement")
            .recover_with(via_parser(recovery));

        stmt.repeated()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBrace), just(Token::RBrace))
            .map_with(move |stmts, e| Block { stmts, span: ctx.span(e.span()) })
    })
    .boxed()
}

fn params<'t, 's: 't>(ctx: &'t Context<'t, 's>, expr: P<'t, 's, Expr>) -> P<'t, 's, Vec<Param>> {
    let hint = just(Token::At)
        .ignore_then(ident(ctx))
        .then(
            expr.clone()
                .separated_by(just(Token::Comma))
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(just(Token::LParen), just(Token::RParen))
                .or_not(),
        )
        .map_with(move |(name, args), e| Hint { name, args: args.unwrap_or_default(), span: ctx.span(e.span()) });
    let param = just(Token::Const)
        .or_not()
        .then(ident(ctx))
        .then(just(Token::Colon).ignore_then(type_expr(ctx)).or_not())
        .then(hint.repeated().collect::<Vec<_>>())
        .then(just(Token::Assign).ignore_then(expr).or_not())
        .map_with(move |((((is_const, name), ty), hints), default), e| Param {
            name,
            is_const: is_const.is_some(),
            ty,
            default,
            hints,
            span: ctx.span(e.span()),
        });
    param
        .separated_by(just(Token::Comma))
        .allow_trailing()
        .collect::<Vec<_>>()
        .delimited_by(just(Token::LParen), just(Token::RParen))
        .recover_with(via_parser(skip_group(Token::LParen, Token::RParen).to(Vec::new())))
        .boxed()
}

/// The help for `x.name` without parentheses. Triton's tensor attributes
/// have no method of the same name, so `()` would only lead to an unknown
/// function; they get their Tessera spelling instead.
fn field_help(name: &str) -> String {
    match name {
        "dtype" | "element_ty" => {
            "values have no fields and there is no `.dtype`: name the dtype itself, such as `f16`".to_string()
        }
        "shape" | "ndim" | "numel" => {
            format!(
                "values have no fields and there is no `.{name}`: shapes are compile-time, write them with constants"
            )
        }
        "T" => "values have no fields: transpose with `trans(x)`".to_string(),
        _ => format!("values have no fields: a method is a function, call it as `.{name}()`"),
    }
}

fn clause_name(clause: &Clause) -> (&'static str, Span) {
    match clause {
        Clause::Grid { span, .. } => ("grid", *span),
        Clause::Tune { span, .. } => ("tune", *span),
        Clause::Key { span, .. } => ("key", *span),
        Clause::Require { span, .. } => ("require", *span),
    }
}

fn clauses<'t, 's: 't>(ctx: &'t Context<'t, 's>, expr: P<'t, 's, Expr>) -> P<'t, 's, Vec<Clause>> {
    let parens = |p: P<'t, 's, Expr>| {
        p.separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LParen), just(Token::RParen))
            .recover_with(via_parser(
                skip_group(Token::LParen, Token::RParen).map_with(move |_, e| vec![error_expr(ctx.span(e.span()))]),
            ))
    };
    let grid = word("grid")
        .ignore_then(parens(expr.clone()))
        .map_with(move |dims, e| Clause::Grid { dims, span: ctx.span(e.span()) });
    let entry = ident(ctx).then_ignore(just(Token::Assign)).then(expr.clone()).map_with(move |(name, value), e| {
        let values = match value.kind {
            ExprKind::Tuple(values) => values,
            _ => vec![value],
        };
        TuneEntry { name, values, span: ctx.span(e.span()) }
    });
    let tune = word("tune")
        .ignore_then(
            entry
                .separated_by(just(Token::Comma))
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(just(Token::LParen), just(Token::RParen))
                .recover_with(via_parser(skip_group(Token::LParen, Token::RParen).to(Vec::new()))),
        )
        .map_with(move |entries, e| Clause::Tune { entries, span: ctx.span(e.span()) });
    let key = word("key")
        .ignore_then(
            ident(ctx)
                .separated_by(just(Token::Comma))
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(just(Token::LParen), just(Token::RParen))
                .recover_with(via_parser(skip_group(Token::LParen, Token::RParen).to(Vec::new()))),
        )
        .map_with(move |params, e| Clause::Key { params, span: ctx.span(e.span()) });
    let require = word("require")
        .ignore_then(parens(expr.clone()))
        .map_with(move |conds, e| Clause::Require { conds, span: ctx.span(e.span()) });
    choice((grid, tune, key, require))
        .labelled("clause")
        .repeated()
        .collect::<Vec<_>>()
        .validate(move |clauses: Vec<Clause>, _, emitter| {
            for (i, clause) in clauses.iter().enumerate() {
                let (name, span) = clause_name(clause);
                if let Some(first) = clauses[..i].iter().map(clause_name).find(|(n, _)| *n == name) {
                    emitter.emit(custom(
                        Diagnostic::error(
                            codes::INVALID_CLAUSE,
                            format!("expected each clause at most once, found a second `{name}` clause"),
                            span,
                        )
                        .with_label("duplicate clause")
                        .with_secondary(first.1, format!("first `{name}` clause here"))
                        .with_help(format!("merge the two `{name}` clauses into one")),
                    ));
                }
            }
            clauses
        })
        .boxed()
}

pub(crate) fn module<'t, 's: 't>(ctx: &'t Context<'t, 's>) -> impl Parser<'t, Input<'t, 's>, Module, Extra<'s>> + 't {
    let expr = expression(ctx);
    let body = block(ctx, expr.clone());

    let kernel = just(Token::Kernel)
        .ignore_then(ident(ctx))
        .then(params(ctx, expr.clone()))
        .then(clauses(ctx, expr.clone()))
        .then(body.clone())
        .map_with(move |(((name, params), clauses), body), e| {
            Item::Kernel(Kernel { name, params, clauses, body, span: ctx.span(e.span()) })
        });
    let function = just(Token::Fn)
        .ignore_then(ident(ctx))
        .then(params(ctx, expr.clone()))
        .then(just(Token::Arrow).ignore_then(type_expr(ctx)).or_not())
        .then(body)
        .map_with(move |(((name, params), ret), body), e| {
            Item::Function(Function { name, params, ret, body, span: ctx.span(e.span()) })
        });
    let constant = just(Token::Const)
        .ignore_then(ident(ctx))
        .then(just(Token::Colon).ignore_then(type_expr(ctx)).or_not())
        .then_ignore(just(Token::Assign))
        .then(expr)
        .then_ignore(semicolon(ctx, "constant"))
        .map_with(move |((name, ty), value), e| Item::Const(ConstItem { name, ty, value, span: ctx.span(e.span()) }));

    // Skip a broken item up to the next item keyword.
    let recovery = token_tree()
        .then(none_of([Token::Kernel, Token::Fn, Token::Const]).rewind().ignore_then(token_tree()).repeated())
        .to(None);

    let item = choice((kernel, function, constant)).map(Some).labelled("item").recover_with(via_parser(recovery));
    item.repeated()
        .collect::<Vec<_>>()
        .then_ignore(end())
        .map(|items| Module { items: items.into_iter().flatten().collect() })
}
