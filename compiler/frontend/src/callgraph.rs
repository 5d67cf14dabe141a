//! The helper call graph, checked for recursion before any inlining.
//!
//! Helpers are inlined at every call, so a cycle would inline forever. Each
//! strongly connected component with a cycle is reported once, showing one
//! shortest cycle through its first helper in source order.

use crate::codes;
use crate::visit::walk_block_exprs;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{HashMap, HashSet, VecDeque};
use tessera_diagnostics::{Diagnostic, Span};
use tessera_syntax::ast::{ExprKind, Function, Item, Module};

/// Nodes are helpers; an edge `a -> b` is one call of `b` in `a`'s body,
/// weighted by the callee name's span.
pub(crate) struct CallGraph<'a> {
    graph: DiGraph<&'a Function, Span>,
}

impl<'a> CallGraph<'a> {
    pub(crate) fn build(module: &'a Module) -> CallGraph<'a> {
        let mut graph = DiGraph::new();
        let mut index: HashMap<&str, NodeIndex> = HashMap::new();
        for item in &module.items {
            if let Item::Function(f) = item {
                // With duplicate names (reported elsewhere) the first definition wins.
                index.entry(f.name.name.as_str()).or_insert_with(|| graph.add_node(f));
            }
        }
        let nodes: Vec<(NodeIndex, &Function)> = graph.node_indices().map(|n| (n, graph[n])).collect();
        for (caller, f) in nodes {
            walk_block_exprs(&f.body, &mut |e| {
                let callee = match &e.kind {
                    ExprKind::Call { callee, .. } => callee,
                    ExprKind::Method { method, .. } => method,
                    _ => return,
                };
                if let Some(&target) = index.get(callee.name.as_str()) {
                    graph.add_edge(caller, target, callee.span);
                }
            });
        }
        CallGraph { graph }
    }

    /// One diagnostic per recursive component.
    pub(crate) fn recursion_errors(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for component in tarjan_scc(&self.graph) {
            let members: HashSet<NodeIndex> = component.iter().copied().collect();
            let Some(&start) = component.iter().min_by_key(|n| self.graph[**n].span.start) else { continue };
            let Some(cycle) = self.shortest_cycle(start, &members) else { continue };
            out.push(self.report(start, &cycle));
        }
        out.sort_by_key(|d| d.span.start);
        out
    }

    /// Edges of a shortest path from `start` back to itself inside `members`.
    fn shortest_cycle(&self, start: NodeIndex, members: &HashSet<NodeIndex>) -> Option<Vec<(NodeIndex, Span)>> {
        let mut pred: HashMap<NodeIndex, (NodeIndex, Span)> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = HashSet::from([start]);
        while let Some(n) = queue.pop_front() {
            let mut edges: Vec<_> = self.graph.edges(n).collect();
            edges.sort_by_key(|e| e.weight().start);
            for e in edges {
                let t = e.target();
                if t == start {
                    // Walk back from n to start.
                    let mut path = vec![(t, *e.weight())];
                    let mut cur = n;
                    while cur != start {
                        let (p, span) = *pred.get(&cur)?;
                        path.push((cur, span));
                        cur = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                if members.contains(&t) && seen.insert(t) {
                    pred.insert(t, (n, *e.weight()));
                    queue.push_back(t);
                }
            }
        }
        None
    }

    fn report(&self, start: NodeIndex, cycle: &[(NodeIndex, Span)]) -> Diagnostic {
        let name = |n: NodeIndex| self.graph[n].name.name.as_str();
        let mut chain = vec![name(start)];
        chain.extend(cycle.iter().map(|(n, _)| name(*n)));
        let first = self.graph[start];
        let mut d = Diagnostic::error(
            codes::RECURSION,
            format!("recursive helper calls: {}", chain.join(" -> ")),
            first.name.span,
        )
        .with_label(format!("`{}` is part of a call cycle", name(start)))
        .with_help("helpers are inlined at every call and cannot recurse; rewrite the recursion as a loop");
        let mut caller = start;
        for (callee, span) in cycle {
            d = d.with_secondary(*span, format!("`{}` calls `{}` here", name(caller), name(*callee)));
            caller = *callee;
        }
        d
    }
}
