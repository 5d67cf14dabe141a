//! Lexical scopes.
//!
//! A *frame* is the body of the kernel or of one inlined helper call: a
//! stack of block scopes. Lookups search the current frame innermost first,
//! then the file's constants; a helper never sees its caller's variables.

use crate::value::Value;
use std::collections::HashMap;
use tessera_diagnostics::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BindingKind {
    /// `let` bindings, runtime parameters, helper parameters: reassignable.
    Var,
    /// A compile-time parameter of the kernel or a helper.
    ConstParam,
    /// A file-level `const`.
    FileConst,
}

#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub value: Value,
    pub kind: BindingKind,
    /// Where a `let` introduced it, for diagnostics that point back at the
    /// definition.
    pub span: Option<Span>,
}

#[derive(Default)]
pub(crate) struct Scopes {
    frames: Vec<Vec<HashMap<String, Binding>>>,
    /// Per frame: whether it contains a statement the parser could not
    /// read. Unknown names there are likely bound by that statement, so
    /// they are not reported again.
    tainted: Vec<bool>,
    /// File constants in definition order.
    globals: Vec<(String, Value)>,
}

impl Scopes {
    pub(crate) fn define_global(&mut self, name: &str, value: Value) {
        self.globals.push((name.to_string(), value));
    }

    pub(crate) fn push_frame(&mut self) {
        self.frames.push(vec![HashMap::new()]);
        self.tainted.push(false);
    }

    pub(crate) fn pop_frame(&mut self) {
        self.frames.pop();
        self.tainted.pop();
    }

    /// Note that the current frame holds a statement that failed to parse.
    pub(crate) fn taint(&mut self) {
        if let Some(t) = self.tainted.last_mut() {
            *t = true;
        }
    }

    pub(crate) fn is_tainted(&self) -> bool {
        self.tainted.last().copied().unwrap_or(false)
    }

    pub(crate) fn push_scope(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.push(HashMap::new());
        }
    }

    pub(crate) fn pop_scope(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.pop();
        }
    }

    /// Bind `name` in the innermost scope (shadowing any outer binding).
    pub(crate) fn define(&mut self, name: &str, value: Value, kind: BindingKind) {
        if let Some(scope) = self.frames.last_mut().and_then(|f| f.last_mut()) {
            scope.insert(name.to_string(), Binding { value, kind, span: None });
        }
    }

    /// [`Scopes::define`] for a binding written in the source at `span`.
    pub(crate) fn define_at(&mut self, name: &str, value: Value, kind: BindingKind, span: Span) {
        if let Some(scope) = self.frames.last_mut().and_then(|f| f.last_mut()) {
            scope.insert(name.to_string(), Binding { value, kind, span: Some(span) });
        }
    }

    /// The binding in the current frame, innermost first.
    pub(crate) fn lookup_local(&self, name: &str) -> Option<&Binding> {
        self.frames.last()?.iter().rev().find_map(|s| s.get(name))
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<Binding> {
        if let Some(b) = self.lookup_local(name) {
            return Some(b.clone());
        }
        self.globals.iter().rev().find(|(n, _)| n == name).map(|(_, v)| Binding {
            value: v.clone(),
            kind: BindingKind::FileConst,
            span: None,
        })
    }

    /// Overwrite the innermost binding of `name` in the current frame.
    /// False when there is none.
    pub(crate) fn assign(&mut self, name: &str, value: Value) -> bool {
        let Some(frame) = self.frames.last_mut() else { return false };
        match frame.iter_mut().rev().find_map(|s| s.get_mut(name)) {
            Some(b) => {
                b.value = value;
                true
            }
            None => false,
        }
    }

    /// Every name visible now (for suggestions).
    pub(crate) fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.globals.iter().map(|(n, _)| n.clone()).collect();
        if let Some(frame) = self.frames.last() {
            for scope in frame {
                let mut local: Vec<&String> = scope.keys().collect();
                local.sort();
                names.extend(local.into_iter().cloned());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoping() {
        let mut s = Scopes::default();
        s.define_global("C", Value::Int(1));
        s.push_frame();
        s.define("x", Value::Int(2), BindingKind::Var);
        s.push_scope();
        s.define("y", Value::Int(3), BindingKind::Var);
        assert!(s.assign("x", Value::Int(4)));
        s.pop_scope();
        assert!(s.lookup("y").is_none());
        assert_eq!(s.lookup("x").map(|b| b.value), Some(Value::Int(4)));
        assert_eq!(s.lookup("C").map(|b| b.kind), Some(BindingKind::FileConst));
        let at = Span::new(tessera_diagnostics::FileId(0), 3, 4);
        s.define_at("z", Value::Int(5), BindingKind::Var, at);
        assert_eq!(s.lookup("z").and_then(|b| b.span), Some(at));
        assert_eq!(s.lookup("x").and_then(|b| b.span), None);
        s.push_frame();
        assert!(s.lookup("x").is_none(), "helpers do not see the caller's variables");
        assert!(!s.assign("x", Value::Int(0)));
    }
}
