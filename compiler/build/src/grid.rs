//! One grid expression for all of a kernel's variants.
//!
//! The front end substitutes and folds compile-time parameters into each
//! specialization's grid (`cdiv(n, BLOCK)` lowers to `cdiv(n, 256)` at
//! `BLOCK = 256`), while a bundle holds one grid per kernel, evaluated with
//! each variant's compile-time values. [`generalize`] recovers it: where the
//! variants' grids agree the node is kept; where they hold different integers
//! that equal, in every variant, the value of one compile-time parameter, the
//! node becomes that parameter. By construction the result, evaluated with a
//! variant's values, is exactly that variant's grid. Grids that fold
//! parameters into other constants (`cdiv(n, 2 * BLOCK)`) cannot be recovered
//! and are reported.

use tessera_runtime::bundle::GridExpr;
use tessera_tir::{ConstValue, MetaCmp, MetaExpr};

/// One variant's lowered grid and the compile-time values it was lowered with.
pub struct VariantGrid<'a> {
    pub grid: &'a [MetaExpr],
    pub consts: &'a [(String, ConstValue)],
}

/// The grid expression that yields every variant's grid; `Err` says why none does.
pub fn generalize(variants: &[VariantGrid<'_>]) -> Result<Vec<GridExpr>, String> {
    let Some(first) = variants.first() else {
        return Err("the kernel has no variant".into());
    };
    if let Some(other) = variants.iter().find(|v| v.grid.len() != first.grid.len()) {
        return Err(format!("variants have grids of {} and {} dimensions", first.grid.len(), other.grid.len()));
    }
    (0..first.grid.len())
        .map(|dim| {
            let nodes: Vec<&MetaExpr> = variants.iter().filter_map(|v| v.grid.get(dim)).collect();
            let consts: Vec<&[(String, ConstValue)]> = variants.iter().map(|v| v.consts).collect();
            node(&nodes, &consts).ok_or_else(|| {
                let shown: Vec<String> = nodes.iter().take(3).map(|n| format!("`{n}`")).collect();
                format!(
                    "grid dimension {dim} lowers to {} in different variants, which no single expression over \
                     the compile-time parameters reproduces",
                    shown.join(", ")
                )
            })
        })
        .collect()
}

/// The generalization of the same node of every variant's grid (`nodes[i]` is
/// variant `i`'s, lowered with `consts[i]`).
fn node(nodes: &[&MetaExpr], consts: &[&[(String, ConstValue)]]) -> Option<GridExpr> {
    let first = *nodes.first()?;
    if nodes.iter().all(|n| *n == first) {
        return Some(convert(first));
    }
    if nodes.iter().all(|n| matches!(n, MetaExpr::Int(_))) {
        let names = consts.first()?.iter().map(|(name, _)| name);
        return names
            .into_iter()
            .find(|name| {
                nodes.iter().zip(consts).all(|(n, values)| {
                    let value = values.iter().find(|(c, _)| c == *name).map(|(_, v)| v);
                    matches!((n, value), (MetaExpr::Int(a), Some(ConstValue::Int(b))) if a == b)
                })
            })
            .map(|name| GridExpr::Param(name.clone()));
    }
    let (make, _, _) = split(first)?;
    let mut lhs = Vec::with_capacity(nodes.len());
    let mut rhs = Vec::with_capacity(nodes.len());
    for n in nodes {
        if std::mem::discriminant(*n) != std::mem::discriminant(first) {
            return None;
        }
        let (_, a, b) = split(n)?;
        lhs.push(a);
        rhs.push(b);
    }
    Some(make(Box::new(node(&lhs, consts)?), Box::new(node(&rhs, consts)?)))
}

type Make = fn(Box<GridExpr>, Box<GridExpr>) -> GridExpr;

/// A binary node's constructor and operands; `None` for leaves and `Not`.
fn split(e: &MetaExpr) -> Option<(Make, &MetaExpr, &MetaExpr)> {
    let (make, a, b): (Make, _, _) = match e {
        MetaExpr::Int(_) | MetaExpr::Param(_) | MetaExpr::Not(_) => return None,
        MetaExpr::Cmp(op, a, b) => (
            match op {
                MetaCmp::Lt => GridExpr::Lt,
                MetaCmp::Le => GridExpr::Le,
                MetaCmp::Gt => GridExpr::Gt,
                MetaCmp::Ge => GridExpr::Ge,
                MetaCmp::Eq => GridExpr::Eq,
                MetaCmp::Ne => GridExpr::Ne,
            },
            a,
            b,
        ),
        MetaExpr::And(a, b) => (GridExpr::And, a, b),
        MetaExpr::Or(a, b) => (GridExpr::Or, a, b),
        MetaExpr::Add(a, b) => (GridExpr::Add, a, b),
        MetaExpr::Sub(a, b) => (GridExpr::Sub, a, b),
        MetaExpr::Mul(a, b) => (GridExpr::Mul, a, b),
        MetaExpr::Div(a, b) => (GridExpr::Div, a, b),
        MetaExpr::Rem(a, b) => (GridExpr::Rem, a, b),
        MetaExpr::Cdiv(a, b) => (GridExpr::Cdiv, a, b),
        MetaExpr::Min(a, b) => (GridExpr::Min, a, b),
        MetaExpr::Max(a, b) => (GridExpr::Max, a, b),
    };
    Some((make, a.as_ref(), b.as_ref()))
}

/// The runtime's spelling of a lowered grid expression or `require`
/// condition (the same tree).
pub fn convert(e: &MetaExpr) -> GridExpr {
    match e {
        MetaExpr::Int(v) => GridExpr::Int(*v),
        MetaExpr::Param(p) => GridExpr::Param(p.clone()),
        MetaExpr::Not(a) => GridExpr::Not(Box::new(convert(a))),
        _ => match split(e) {
            Some((make, a, b)) => make(Box::new(convert(a)), Box::new(convert(b))),
            None => GridExpr::Int(1),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(e: MetaExpr) -> Box<MetaExpr> {
        Box::new(e)
    }
    fn gb(e: GridExpr) -> Box<GridExpr> {
        Box::new(e)
    }
    fn n() -> MetaExpr {
        MetaExpr::Param("n".into())
    }
    fn consts(block: i64, other: i64) -> Vec<(String, ConstValue)> {
        vec![("BLOCK".into(), ConstValue::Int(block)), ("OTHER".into(), ConstValue::Int(other))]
    }

    #[test]
    fn differing_constants_become_the_parameter_they_equal() {
        let g256 = [MetaExpr::Cdiv(b(n()), b(MetaExpr::Int(256))), MetaExpr::Int(3)];
        let g1024 = [MetaExpr::Cdiv(b(n()), b(MetaExpr::Int(1024))), MetaExpr::Int(3)];
        let (c256, c1024) = (consts(256, 3), consts(1024, 3));
        let grid =
            generalize(&[VariantGrid { grid: &g256, consts: &c256 }, VariantGrid { grid: &g1024, consts: &c1024 }]);
        let want = GridExpr::Cdiv(gb(GridExpr::Param("n".into())), gb(GridExpr::Param("BLOCK".into())));
        // OTHER equals 3 everywhere too, but the node agrees, so it stays a literal.
        assert_eq!(grid, Ok(vec![want, GridExpr::Int(3)]));
    }

    #[test]
    fn identical_grids_are_kept_as_they_are() {
        let g = [MetaExpr::Mul(b(n()), b(MetaExpr::Int(2)))];
        let (c1, c2) = (consts(1, 1), consts(2, 2));
        let grid = generalize(&[VariantGrid { grid: &g, consts: &c1 }, VariantGrid { grid: &g, consts: &c2 }]);
        assert_eq!(grid, Ok(vec![GridExpr::Mul(gb(GridExpr::Param("n".into())), gb(GridExpr::Int(2)))]));
    }

    #[test]
    fn folded_parameters_are_reported() {
        // cdiv(n, 2 * BLOCK) at BLOCK = 128 and 256.
        let g1 = [MetaExpr::Cdiv(b(n()), b(MetaExpr::Int(256)))];
        let g2 = [MetaExpr::Cdiv(b(n()), b(MetaExpr::Int(512)))];
        let (c1, c2) = (consts(128, 0), consts(256, 0));
        let error = generalize(&[VariantGrid { grid: &g1, consts: &c1 }, VariantGrid { grid: &g2, consts: &c2 }])
            .expect_err("2 * BLOCK is folded");
        assert!(error.contains("`cdiv(n, 256)`, `cdiv(n, 512)`"), "{error}");
        // Different operators cannot be merged either.
        let g3 = [MetaExpr::Min(b(n()), b(MetaExpr::Int(512)))];
        assert!(generalize(&[VariantGrid { grid: &g2, consts: &c1 }, VariantGrid { grid: &g3, consts: &c2 }]).is_err());
    }
}
