//! Read-only walks over syntax trees.

use tessera_syntax::ast::{Block, Expr, ExprKind, IndexItem, StmtKind};

/// Call `f` on every expression of `block`, outer expressions before their
/// subexpressions, in source order.
pub(crate) fn walk_block_exprs<'a>(block: &'a Block, f: &mut dyn FnMut(&'a Expr)) {
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::Let { value, .. } | StmtKind::Assign { value, .. } | StmtKind::Expr(value) => walk_expr(value, f),
            StmtKind::For { iter, body, .. } => {
                walk_expr(iter, f);
                walk_block_exprs(body, f);
            }
            StmtKind::While { cond, body } => {
                walk_expr(cond, f);
                walk_block_exprs(body, f);
            }
            StmtKind::If { cond, then_block, else_block } => {
                walk_expr(cond, f);
                walk_block_exprs(then_block, f);
                if let Some(e) = else_block {
                    walk_block_exprs(e, f);
                }
            }
            StmtKind::Return(Some(value)) => walk_expr(value, f),
            StmtKind::Return(None) | StmtKind::Error => {}
        }
    }
}

pub(crate) fn walk_expr<'a>(expr: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(expr);
    match &expr.kind {
        ExprKind::Unary { operand, .. } => walk_expr(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            walk_expr(lhs, f);
            walk_expr(rhs, f);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| walk_expr(&a.value, f)),
        ExprKind::Method { receiver, args, .. } => {
            walk_expr(receiver, f);
            args.iter().for_each(|a| walk_expr(&a.value, f));
        }
        ExprKind::Index { base, indices } => {
            walk_expr(base, f);
            for item in indices {
                if let IndexItem::Expr(e) = item {
                    walk_expr(e, f);
                }
            }
        }
        ExprKind::Tuple(items) => items.iter().for_each(|e| walk_expr(e, f)),
        ExprKind::Cast { expr, .. } => walk_expr(expr, f),
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::None
        | ExprKind::Name(_)
        | ExprKind::Error => {}
    }
}
