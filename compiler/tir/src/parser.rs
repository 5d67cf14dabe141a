//! Reads the IR text form written by [`crate::printer`] back into a
//! [`Kernel`] or [`Module`].
//!
//! A hand-written recursive descent parser over an on-demand lexer: the
//! cursor is a byte offset, and [`Parser::peek`] lexes the next token without
//! consuming it, so the parser can switch to character-level scanning where
//! tokens would be ambiguous (the `64x32xf32` inside `tensor<...>`). Value
//! names in the text (`%3`, `%acc`) are mapped to fresh [`ValueId`]s in
//! order of definition; scoping is lexical, as in the IR: a region's
//! definitions are invisible after its closing brace. The parser checks
//! syntax and names only; types and op contracts are left to
//! [`crate::verify`]. It never panics, whatever the input.

use crate::codes;
use crate::kernel::{ConstValue, Kernel, Loc, MetaCmp, MetaExpr, Module, Op, ParamHints, Region, TuneSpace, ValueId};
use crate::ops::{BinaryOp, CmpPred, Constant, DotPrecision, Evict, OpKind, Padding, ReduceKind, ScanKind, UnaryOp};
use crate::printer::load_flags;
use crate::types::{ElemType, ScalarType, Type};
use std::collections::{HashMap, HashSet};
use std::fmt;
use tessera_diagnostics::{Diagnostic, FileId, Span};

/// A syntax or naming error in IR text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrParseError {
    /// One of the E0501–E0519 codes in [`crate::codes`], or E0525 for an op
    /// written after its region's terminator (the verifier's code for the
    /// same problem, reported here where the text position is known).
    pub code: &'static str,
    /// What went wrong, without the location.
    pub message: String,
    /// 1-based line and column (in characters) of the offending text.
    pub line: u32,
    pub col: u32,
    /// Byte offset of the offending text.
    pub offset: usize,
}

impl IrParseError {
    /// A diagnostic pointing at the error in `file` (whose text was parsed).
    pub fn to_diagnostic(&self, file: FileId) -> Diagnostic {
        Diagnostic::error(self.code, self.message.clone(), Span::new(file, self.offset, self.offset))
    }
}

impl fmt::Display for IrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {} at {}:{}", self.code, self.message, self.line, self.col)
    }
}

impl std::error::Error for IrParseError {}

/// Parse exactly one kernel.
pub fn parse_kernel(text: &str) -> Result<Kernel, IrParseError> {
    let mut p = Parser::new(text);
    let k = p.kernel()?;
    let (tok, start, _) = p.peek()?;
    if tok != Tok::Eof {
        return Err(p.error(codes::EXPECTED_TOKEN, start, format!("expected end of input, found {}", tok.describe())));
    }
    Ok(k)
}

/// Parse any number of kernels.
pub fn parse_module(text: &str) -> Result<Module, IrParseError> {
    let mut p = Parser::new(text);
    let mut module = Module::default();
    while p.peek()?.0 != Tok::Eof {
        module.kernels.push(p.kernel()?);
    }
    Ok(module)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    /// `%name`, without the `%`.
    Value(&'a str),
    Str(String),
    /// A numeric literal's text (`-12`, `1.5e3`).
    Num(&'a str),
    Punct(char),
    Eof,
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Value(s) => format!("`%{s}`"),
            Tok::Str(s) => format!("string {}", crate::printer::quote(s)),
            Tok::Num(s) => format!("`{s}`"),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

/// An attribute value in `{key = value}`.
#[derive(Clone, Debug, PartialEq)]
enum Attr {
    Unit,
    Int(i64),
    Bool(bool),
    Word(String),
    List(Vec<i64>),
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    kernel: Kernel,
    scopes: Vec<HashMap<String, ValueId>>,
    defined: HashSet<String>,
}

type PResult<T> = Result<T, IrParseError>;

/// A binary [`MetaExpr`] constructor.
type MetaCtor = fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        Parser { src, pos: 0, kernel: Kernel::new("", ""), scopes: Vec::new(), defined: HashSet::new() }
    }

    fn error(&self, code: &'static str, offset: usize, message: impl Into<String>) -> IrParseError {
        let offset = offset.min(self.src.len());
        let before = self.src.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).map_or(0, |s| s.chars().count()) as u32 + 1;
        IrParseError { code, message: message.into(), line, col, offset }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn skip_trivia(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    /// The next token, its start and end offsets; consumes nothing.
    fn peek(&mut self) -> PResult<(Tok<'a>, usize, usize)> {
        self.skip_trivia();
        let start = self.pos;
        let src: &'a str = self.src;
        let rest = src.get(start..).unwrap_or("");
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            return Ok((Tok::Eof, start, start));
        };
        let take_while = |from: usize, pred: &dyn Fn(char) -> bool| -> usize {
            let tail = rest.get(from..).unwrap_or("");
            from + tail.find(|c: char| !pred(c)).unwrap_or(tail.len())
        };
        if c.is_ascii_alphabetic() || c == '_' {
            let end = take_while(0, &is_name_char);
            return Ok((Tok::Ident(&rest[..end]), start, start + end));
        }
        if c == '%' {
            let end = take_while(1, &is_name_char);
            if end > 1 {
                return Ok((Tok::Value(&rest[1..end]), start, start + end));
            }
            return Ok((Tok::Punct('%'), start, start + 1));
        }
        let next = chars.next();
        if c.is_ascii_digit() || (c == '-' && (next.is_some_and(|n| n.is_ascii_digit()) || rest.starts_with("-inf"))) {
            if rest.starts_with("-inf") {
                let end = take_while(1, &is_name_char);
                return Ok((Tok::Num(&rest[..end]), start, start + end));
            }
            let mut end = take_while(1, &|c| c.is_ascii_digit());
            if rest.get(end..).is_some_and(|t| t.starts_with('.')) {
                end = take_while(end + 1, &|c| c.is_ascii_digit());
            }
            if rest.get(end..).is_some_and(|t| t.starts_with(['e', 'E'])) {
                let mut e = end + 1;
                if rest.get(e..).is_some_and(|t| t.starts_with(['+', '-'])) {
                    e += 1;
                }
                let digits_end = take_while(e, &|c| c.is_ascii_digit());
                if digits_end > e {
                    end = digits_end;
                }
            }
            // `1e3x`, `12ab`: letters glued to a number make one malformed
            // literal, not a number followed by a name.
            end = take_while(end, &is_name_char);
            return Ok((Tok::Num(&rest[..end]), start, start + end));
        }
        if c == '"' {
            return self.string(start);
        }
        if "(){}[]<>,:=^@+-*/".contains(c) {
            return Ok((Tok::Punct(c), start, start + 1));
        }
        Err(self.error(codes::UNEXPECTED_CHAR, start, format!("unexpected character `{}`", c.escape_debug())))
    }

    fn string(&self, start: usize) -> PResult<(Tok<'a>, usize, usize)> {
        let rest = self.src.get(start + 1..).unwrap_or("");
        let mut out = String::new();
        let mut iter = rest.char_indices();
        while let Some((i, c)) = iter.next() {
            match c {
                '"' => return Ok((Tok::Str(out), start, start + 1 + i + 1)),
                '\\' => {
                    let at = start + 1 + i;
                    match iter.next() {
                        Some((_, '"')) => out.push('"'),
                        Some((_, '\\')) => out.push('\\'),
                        Some((_, 'n')) => out.push('\n'),
                        Some((_, 't')) => out.push('\t'),
                        Some((j, 'u')) => {
                            let tail = rest.get(j + 1..).unwrap_or("");
                            let close = tail.find('}');
                            let code = match (tail.starts_with('{'), close) {
                                (true, Some(close)) => tail
                                    .get(1..close)
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .and_then(char::from_u32),
                                _ => None,
                            };
                            let (Some(ch), Some(close)) = (code, close) else {
                                return Err(self.error(codes::BAD_LITERAL, at, "malformed `\\u{...}` escape"));
                            };
                            out.push(ch);
                            for _ in 0..=close {
                                iter.next();
                            }
                        }
                        _ => return Err(self.error(codes::BAD_LITERAL, at, "unknown escape in string")),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error(codes::BAD_LITERAL, start, "unterminated string"))
    }

    fn bump(&mut self) -> PResult<(Tok<'a>, usize, usize)> {
        let t = self.peek()?;
        self.pos = t.2;
        Ok(t)
    }

    fn at_punct(&mut self, c: char) -> PResult<bool> {
        Ok(self.peek()?.0 == Tok::Punct(c))
    }

    fn at_ident(&mut self, word: &str) -> PResult<bool> {
        Ok(self.peek()?.0 == Tok::Ident(word))
    }

    fn eat_punct(&mut self, c: char) -> PResult<bool> {
        let found = self.at_punct(c)?;
        if found {
            self.bump()?;
        }
        Ok(found)
    }

    fn expected(&mut self, what: &str) -> IrParseError {
        match self.peek() {
            Ok((tok, start, _)) => {
                self.error(codes::EXPECTED_TOKEN, start, format!("expected {what}, found {}", tok.describe()))
            }
            Err(e) => e,
        }
    }

    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c)? { Ok(()) } else { Err(self.expected(&format!("`{c}`"))) }
    }

    fn expect_keyword(&mut self, word: &str) -> PResult<()> {
        if self.at_ident(word)? {
            self.bump()?;
            Ok(())
        } else {
            Err(self.expected(&format!("`{word}`")))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<(&'a str, usize)> {
        match self.peek()? {
            (Tok::Ident(s), start, end) => {
                self.pos = end;
                Ok((s, start))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// An identifier or a string.
    fn name(&mut self, what: &str) -> PResult<String> {
        match self.peek()? {
            (Tok::Ident(s), _, end) => {
                self.pos = end;
                Ok(s.to_string())
            }
            (Tok::Str(s), _, end) => {
                self.pos = end;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn string_lit(&mut self, what: &str) -> PResult<String> {
        match self.peek()? {
            (Tok::Str(s), _, end) => {
                self.pos = end;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn int<T: TryFrom<i64>>(&mut self, what: &str) -> PResult<T> {
        match self.peek()? {
            (Tok::Num(text), start, end) => {
                let value = text.parse::<i64>().ok().and_then(|v| T::try_from(v).ok());
                match value {
                    Some(v) => {
                        self.pos = end;
                        Ok(v)
                    }
                    None => Err(self.error(codes::BAD_LITERAL, start, format!("`{text}` is not a valid {what}"))),
                }
            }
            _ => Err(self.expected(what)),
        }
    }

    /// An integer, float or boolean literal.
    fn literal(&mut self) -> PResult<ConstValue> {
        let (tok, start, end) = self.peek()?;
        let value = match tok {
            Tok::Ident("true") => ConstValue::Bool(true),
            Tok::Ident("false") => ConstValue::Bool(false),
            Tok::Ident("nan") => ConstValue::Float(f64::NAN),
            Tok::Ident("inf") => ConstValue::Float(f64::INFINITY),
            Tok::Num("-inf") => ConstValue::Float(f64::NEG_INFINITY),
            Tok::Num(text) if text.contains(['.', 'e', 'E']) => match text.parse::<f64>() {
                Ok(v) => ConstValue::Float(v),
                Err(_) => return Err(self.error(codes::BAD_LITERAL, start, format!("malformed float `{text}`"))),
            },
            Tok::Num(text) => match text.parse::<i64>() {
                Ok(v) => ConstValue::Int(v),
                Err(_) if !text.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(self.error(codes::BAD_LITERAL, start, format!("malformed number `{text}`")));
                }
                Err(_) => {
                    return Err(self.error(codes::BAD_LITERAL, start, format!("integer `{text}` does not fit in i64")));
                }
            },
            _ => return Err(self.expected("a literal")),
        };
        self.pos = end;
        Ok(value)
    }

    // ----- types -----

    fn scalar(&mut self) -> PResult<ScalarType> {
        let (tok, start, end) = self.peek()?;
        if let Tok::Ident(s) = tok
            && let Some(t) = ScalarType::from_name(s)
        {
            self.pos = end;
            return Ok(t);
        }
        Err(self.error(codes::EXPECTED_TOKEN, start, format!("expected scalar type, found {}", tok.describe())))
    }

    fn elem(&mut self) -> PResult<ElemType> {
        if self.at_ident("ptr")? {
            self.bump()?;
            self.expect_punct('<')?;
            let s = self.scalar()?;
            self.expect_punct('>')?;
            Ok(ElemType::Ptr(s))
        } else {
            Ok(ElemType::Scalar(self.scalar()?))
        }
    }

    /// `64x32x` inside `tensor<...>`: scanned by characters, since `32xf32`
    /// is not a sequence of tokens.
    fn dims(&mut self) -> PResult<Vec<u32>> {
        let mut dims = Vec::new();
        loop {
            self.skip_trivia();
            let rest = self.rest();
            let len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if len == 0 {
                return Ok(dims);
            }
            let start = self.pos;
            let Some(d) = rest.get(..len).and_then(|t| t.parse::<u32>().ok()) else {
                return Err(self.error(codes::BAD_LITERAL, start, "dimension does not fit in u32"));
            };
            dims.push(d);
            self.pos += len;
            if self.rest().starts_with('x') {
                self.pos += 1;
            } else {
                return Err(self.error(codes::EXPECTED_TOKEN, self.pos, "expected `x` after a dimension"));
            }
        }
    }

    fn ty(&mut self) -> PResult<Type> {
        let (tok, start, end) = self.peek()?;
        match tok {
            Tok::Ident("ptr") => Ok(Type::Tensor { elem: self.elem()?, shape: Vec::new() }),
            Tok::Ident("tensor") => {
                self.pos = end;
                self.expect_punct('<')?;
                let shape = self.dims()?;
                let elem = self.elem()?;
                self.expect_punct('>')?;
                Ok(Type::Tensor { elem, shape })
            }
            Tok::Ident("blockptr") => {
                self.pos = end;
                self.expect_punct('<')?;
                let block = self.dims()?;
                let elem = self.scalar()?;
                self.expect_punct('>')?;
                Ok(Type::BlockPtr { elem, block })
            }
            Tok::Ident(s) if ScalarType::from_name(s).is_some() => {
                Ok(Type::Tensor { elem: self.elem()?, shape: vec![] })
            }
            _ => Err(self.error(codes::EXPECTED_TOKEN, start, format!("expected type, found {}", tok.describe()))),
        }
    }

    // ----- values -----

    fn value_name(&mut self) -> PResult<(&'a str, usize)> {
        match self.peek()? {
            (Tok::Value(s), start, end) => {
                self.pos = end;
                Ok((s, start))
            }
            _ => Err(self.expected("a value")),
        }
    }

    /// Allocate a value for a definition; the name becomes visible with
    /// [`Parser::bind`].
    fn define(&mut self, name: &str, at: usize, ty: Type) -> PResult<ValueId> {
        if !self.defined.insert(name.to_string()) {
            return Err(self.error(codes::REDEFINED_VALUE, at, format!("redefinition of %{name}")));
        }
        Ok(self.kernel.new_value(ty))
    }

    fn bind(&mut self, name: &str, v: ValueId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), v);
        }
    }

    fn use_value(&mut self) -> PResult<ValueId> {
        let (name, at) = self.value_name()?;
        match self.scopes.iter().rev().find_map(|s| s.get(name)) {
            Some(&v) => Ok(v),
            None if self.defined.contains(name) => Err(self.error(
                codes::UNDEFINED_VALUE,
                at,
                format!("use of value %{name} outside the region defining it"),
            )),
            None => Err(self.error(codes::UNDEFINED_VALUE, at, format!("use of undefined value %{name}"))),
        }
    }

    fn use_list(&mut self) -> PResult<Vec<ValueId>> {
        let mut vs = Vec::new();
        if !matches!(self.peek()?.0, Tok::Value(_)) || self.at_definition()? {
            return Ok(vs);
        }
        loop {
            vs.push(self.use_value()?);
            if !self.eat_punct(',')? {
                return Ok(vs);
            }
        }
    }

    /// Whether the text ahead is `%a, %b =`: the results of the next op,
    /// not operands of the current one (`return` followed by an op on the
    /// next line). Operand lists are never followed by `=`.
    fn at_definition(&mut self) -> PResult<bool> {
        let saved = self.pos;
        let mut result = false;
        while let (Tok::Value(_), _, end) = self.peek()? {
            self.pos = end;
            if self.at_punct('=')? {
                result = true;
                break;
            }
            if !self.eat_punct(',')? {
                break;
            }
        }
        self.pos = saved;
        Ok(result)
    }

    // ----- kernels -----

    fn kernel(&mut self) -> PResult<Kernel> {
        self.kernel = Kernel::new("", "");
        self.defined.clear();
        self.scopes = vec![HashMap::new()];
        self.expect_keyword("kernel")?;
        self.expect_punct('@')?;
        self.kernel.name = self.name("a kernel name")?;
        self.expect_punct('(')?;
        if !self.at_punct(')')? {
            loop {
                self.param()?;
                if !self.eat_punct(',')? {
                    break;
                }
            }
        }
        self.expect_punct(')')?;
        self.clauses()?;
        self.expect_punct('{')?;
        self.kernel.body.ops = self.ops_until_brace()?;
        Ok(std::mem::replace(&mut self.kernel, Kernel::new("", "")))
    }

    fn param(&mut self) -> PResult<()> {
        let (name, at) = self.value_name()?;
        self.expect_punct(':')?;
        let ty = self.ty()?;
        let pname = self.string_lit("a parameter name string")?;
        let mut hints = ParamHints::default();
        if self.at_punct('{')? {
            for (key, attr, at) in self.attr_dict()? {
                match (key.as_str(), attr) {
                    ("div", Attr::Int(d)) if hints.divisibility.is_none() => {
                        hints.divisibility = u32::try_from(d).ok();
                        if hints.divisibility.is_none() {
                            return Err(self.error(codes::BAD_ATTRIBUTE, at, format!("`div = {d}` is out of range")));
                        }
                    }
                    ("contig", Attr::Unit) if !hints.contiguous => hints.contiguous = true,
                    (key, _) => {
                        return Err(self.error(codes::BAD_ATTRIBUTE, at, format!("bad parameter hint `{key}`")));
                    }
                }
            }
        }
        if !self.defined.insert(name.to_string()) {
            return Err(self.error(codes::REDEFINED_VALUE, at, format!("redefinition of %{name}")));
        }
        let v = self.kernel.add_param(pname, ty, hints);
        self.bind(name, v);
        Ok(())
    }

    fn clauses(&mut self) -> PResult<()> {
        let mut seen = HashSet::new();
        while let (Tok::Ident(word), start, end) = self.peek()? {
            if !seen.insert(word) {
                return Err(self.error(codes::BAD_HEADER, start, format!("repeated `{word}` clause")));
            }
            self.pos = end;
            self.expect_punct('(')?;
            match word {
                "source" => self.kernel.source = self.string_lit("a source file name")?,
                "consts" => {
                    self.kernel.consts = self.comma_list(|p| {
                        let name = p.name("a constant name")?;
                        p.expect_punct('=')?;
                        Ok((name, p.literal()?))
                    })?
                }
                "grid" => self.kernel.meta.grid = self.comma_list(Parser::meta)?,
                "warps" => self.kernel.meta.num_warps = self.int("warp count")?,
                "stages" => self.kernel.meta.num_stages = self.int("stage count")?,
                "occupancy" => self.kernel.meta.occupancy = self.int("occupancy")?,
                "tune" => {
                    let axes = self.comma_list(|p| {
                        let name = p.name("a tuning axis name")?;
                        p.expect_punct('=')?;
                        p.expect_punct('[')?;
                        let values = p.comma_list(Parser::literal)?;
                        p.expect_punct(']')?;
                        Ok((name, values))
                    })?;
                    self.kernel.meta.tune = TuneSpace { axes };
                }
                "key" => self.kernel.meta.key = self.comma_list(|p| p.name("a parameter name"))?,
                "require" => self.kernel.meta.require = self.comma_list(Parser::meta)?,
                _ => return Err(self.error(codes::BAD_HEADER, start, format!("unknown kernel clause `{word}`"))),
            }
            self.expect_punct(')')?;
        }
        Ok(())
    }

    /// Zero or more items separated by commas, up to a closing `)` or `]`
    /// (not consumed).
    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut items = Vec::new();
        if self.at_punct(')')? || self.at_punct(']')? {
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            if !self.eat_punct(',')? {
                return Ok(items);
            }
        }
    }

    fn meta(&mut self) -> PResult<MetaExpr> {
        let (tok, _, end) = self.peek()?;
        match tok {
            Tok::Num(_) => Ok(MetaExpr::Int(self.int("integer")?)),
            Tok::Str(s) => {
                self.pos = end;
                Ok(MetaExpr::Param(s))
            }
            Tok::Ident(word) => {
                self.pos = end;
                if word == "not" && self.at_punct('(')? {
                    self.bump()?;
                    let a = self.meta()?;
                    self.expect_punct(')')?;
                    return Ok(MetaExpr::Not(Box::new(a)));
                }
                let cmp = MetaCmp::ALL.into_iter().find(|c| c.name() == word);
                if let (Some(op), true) = (cmp, self.at_punct('(')?) {
                    self.bump()?;
                    let a = self.meta()?;
                    self.expect_punct(',')?;
                    let b = self.meta()?;
                    self.expect_punct(')')?;
                    return Ok(MetaExpr::Cmp(op, Box::new(a), Box::new(b)));
                }
                let make: Option<MetaCtor> = match word {
                    "cdiv" => Some(MetaExpr::Cdiv),
                    "min" => Some(MetaExpr::Min),
                    "max" => Some(MetaExpr::Max),
                    "and" => Some(MetaExpr::And),
                    "or" => Some(MetaExpr::Or),
                    _ => None,
                };
                match make {
                    Some(make) if self.at_punct('(')? => {
                        self.bump()?;
                        let a = self.meta()?;
                        self.expect_punct(',')?;
                        let b = self.meta()?;
                        self.expect_punct(')')?;
                        Ok(make(Box::new(a), Box::new(b)))
                    }
                    _ => Ok(MetaExpr::Param(word.to_string())),
                }
            }
            Tok::Punct('(') => {
                self.pos = end;
                let a = self.meta()?;
                let make: MetaCtor = match self.peek()?.0 {
                    Tok::Punct('+') => MetaExpr::Add,
                    Tok::Punct('-') => MetaExpr::Sub,
                    Tok::Punct('*') => MetaExpr::Mul,
                    Tok::Punct('/') => MetaExpr::Div,
                    Tok::Punct('%') => MetaExpr::Rem,
                    _ => return Err(self.expected("`+`, `-`, `*`, `/` or `%`")),
                };
                self.bump()?;
                let b = self.meta()?;
                self.expect_punct(')')?;
                Ok(make(Box::new(a), Box::new(b)))
            }
            _ => Err(self.expected("a grid expression")),
        }
    }

    // ----- ops -----

    fn attr_dict(&mut self) -> PResult<Vec<(String, Attr, usize)>> {
        self.expect_punct('{')?;
        let mut attrs: Vec<(String, Attr, usize)> = Vec::new();
        if self.eat_punct('}')? {
            return Ok(attrs);
        }
        loop {
            let (key, at) = self.ident("an attribute name")?;
            if attrs.iter().any(|(k, _, _)| k == key) {
                return Err(self.error(codes::BAD_ATTRIBUTE, at, format!("repeated attribute `{key}`")));
            }
            let value = if self.eat_punct('=')? {
                match self.peek()?.0 {
                    Tok::Num(_) => Attr::Int(self.int("integer")?),
                    Tok::Ident("true") => {
                        self.bump()?;
                        Attr::Bool(true)
                    }
                    Tok::Ident("false") => {
                        self.bump()?;
                        Attr::Bool(false)
                    }
                    Tok::Ident(w) => {
                        self.bump()?;
                        Attr::Word(w.to_string())
                    }
                    Tok::Punct('[') => {
                        self.bump()?;
                        let items = self.comma_list(|p| p.int::<i64>("integer"))?;
                        self.expect_punct(']')?;
                        Attr::List(items)
                    }
                    _ => return Err(self.expected("an attribute value")),
                }
            } else {
                Attr::Unit
            };
            attrs.push((key.to_string(), value, at));
            if !self.eat_punct(',')? {
                break;
            }
        }
        self.expect_punct('}')?;
        Ok(attrs)
    }

    fn op(&mut self) -> PResult<Op> {
        // Result names.
        let mut results: Vec<(&'a str, usize)> = Vec::new();
        if matches!(self.peek()?.0, Tok::Value(_)) {
            loop {
                results.push(self.value_name()?);
                if !self.eat_punct(',')? {
                    break;
                }
            }
            self.expect_punct('=')?;
        }
        let (mnemonic, op_at) = self.ident("an op mnemonic")?;
        let mut kind = self.kind_prefix(mnemonic, op_at)?;
        let mut operands = self.use_list()?;
        if kind == OpKind::For && self.at_ident("iter")? {
            self.bump()?;
            self.expect_punct('(')?;
            operands.extend(self.use_list()?);
            self.expect_punct(')')?;
        }
        let has_regions = matches!(kind, OpKind::For | OpKind::If | OpKind::While);
        let attrs = if !has_regions && self.at_punct('{')? { self.attr_dict()? } else { Vec::new() };
        self.apply_attrs(&mut kind, operands.len(), attrs)?;
        let mut types = Vec::new();
        let types_at = self.peek()?.1;
        if self.eat_punct(':')? {
            loop {
                types.push(self.ty()?);
                if !self.eat_punct(',')? {
                    break;
                }
            }
        }
        if types.len() != results.len() {
            return Err(self.error(
                codes::RESULT_TYPE_COUNT,
                types_at,
                format!("`{mnemonic}` defines {} result(s) but has {} result type(s)", results.len(), types.len()),
            ));
        }
        let mut result_ids = Vec::with_capacity(results.len());
        for (&(name, at), ty) in results.iter().zip(types) {
            result_ids.push(self.define(name, at, ty)?);
        }
        let mut regions = Vec::new();
        if has_regions {
            loop {
                let (tok, _, end) = self.peek()?;
                match tok {
                    Tok::Punct('{') => {}
                    Tok::Ident("else" | "do") if !regions.is_empty() => self.pos = end,
                    _ => break,
                }
                regions.push(self.region()?);
            }
        }
        let mut loc = Loc::UNKNOWN;
        if self.at_ident("loc")? {
            self.bump()?;
            self.expect_punct('(')?;
            loc.line = self.int("line number")?;
            self.expect_punct(':')?;
            loc.col = self.int("column number")?;
            self.expect_punct(')')?;
        }
        for (&(name, _), &v) in results.iter().zip(&result_ids) {
            self.bind(name, v);
        }
        Ok(Op { kind, operands, results: result_ids, regions, loc })
    }

    fn region(&mut self) -> PResult<Region> {
        self.expect_punct('{')?;
        self.scopes.push(HashMap::new());
        let mut region = Region::default();
        if self.eat_punct('^')? {
            self.expect_punct('(')?;
            let args = self.comma_list(|p| {
                let (name, at) = p.value_name()?;
                p.expect_punct(':')?;
                let ty = p.ty()?;
                Ok((name, at, ty))
            })?;
            self.expect_punct(')')?;
            self.expect_punct(':')?;
            for (name, at, ty) in args {
                let v = self.define(name, at, ty)?;
                self.bind(name, v);
                region.args.push(v);
            }
        }
        region.ops = self.ops_until_brace()?;
        self.scopes.pop();
        Ok(region)
    }

    /// The ops of a region up to and including its closing `}`. An op after
    /// the terminator is reported here, at its own position, rather than
    /// left for the verifier, which only knows source locations.
    fn ops_until_brace(&mut self) -> PResult<Vec<Op>> {
        let mut ops: Vec<Op> = Vec::new();
        while !self.eat_punct('}')? {
            let (tok, at, _) = self.peek()?;
            if tok == Tok::Eof {
                return Err(self.expected("`}`"));
            }
            if let Some(last) = ops.last().filter(|op| op.kind.is_terminator()) {
                return Err(self.error(
                    codes::TERMINATOR_NOT_LAST,
                    at,
                    format!("expected `}}` after the terminator `{}`, found another op", last.kind.mnemonic()),
                ));
            }
            ops.push(self.op()?);
        }
        Ok(ops)
    }

    /// The op kind named by `mnemonic`, with its positional attributes
    /// parsed; dictionary attributes get their defaults here.
    fn kind_prefix(&mut self, mnemonic: &str, at: usize) -> PResult<OpKind> {
        if let Some(op) = UnaryOp::ALL.into_iter().find(|op| op.name() == mnemonic) {
            return Ok(OpKind::Unary(op));
        }
        if let Some(op) = BinaryOp::ALL.into_iter().find(|op| op.name() == mnemonic) {
            return Ok(OpKind::Binary(op));
        }
        Ok(match mnemonic {
            "constant" => OpKind::Constant(match self.literal()? {
                ConstValue::Int(v) => Constant::Int(v),
                ConstValue::Float(v) => Constant::Float(v),
                ConstValue::Bool(v) => Constant::Bool(v),
            }),
            "program_id" => OpKind::ProgramId(self.int("axis")?),
            "num_programs" => OpKind::NumPrograms(self.int("axis")?),
            "arange" => {
                let start = self.int("integer")?;
                self.expect_punct(',')?;
                OpKind::Arange { start, end: self.int("integer")? }
            }
            "splat" => OpKind::Splat,
            "broadcast" => OpKind::Broadcast,
            "expand_dims" => OpKind::ExpandDims(0),
            "reshape" => OpKind::Reshape,
            "permute" => OpKind::Permute(Vec::new()),
            "cmp" => {
                let (word, word_at) = self.ident("a comparison predicate")?;
                match CmpPred::ALL.into_iter().find(|p| p.name() == word) {
                    Some(p) => OpKind::Compare(p),
                    None => {
                        return Err(self.error(codes::BAD_ATTRIBUTE, word_at, format!("unknown predicate `{word}`")));
                    }
                }
            }
            "select" => OpKind::Select,
            "cast" => OpKind::Cast,
            "addptr" => OpKind::AddPtr,
            "load" => OpKind::Load { masked: false, has_other: false },
            "store" => OpKind::Store { masked: false },
            "atomic_add" => OpKind::AtomicAdd { masked: false },
            "fence" => OpKind::Fence,
            "make_block_ptr" => OpKind::MakeBlockPtr { order: Vec::new() },
            "advance" => OpKind::Advance,
            "load_block" => {
                OpKind::LoadBlock { boundary_check: Vec::new(), padding: Padding::Zero, evict: Evict::Normal }
            }
            "store_block" => OpKind::StoreBlock { boundary_check: Vec::new() },
            "dot" => OpKind::Dot { precision: DotPrecision::Tf32 },
            "reduce" => {
                let (word, word_at) = self.ident("a reduction kind")?;
                let kind = match word {
                    "sum" => ReduceKind::Sum,
                    "max" => ReduceKind::Max,
                    "min" => ReduceKind::Min,
                    "argmax" => ReduceKind::Argmax,
                    "argmin" => ReduceKind::Argmin,
                    _ => {
                        return Err(self.error(codes::BAD_ATTRIBUTE, word_at, format!("unknown reduction `{word}`")));
                    }
                };
                OpKind::Reduce { kind, axis: 0 }
            }
            "scan" => {
                let (word, word_at) = self.ident("a scan kind")?;
                let kind = match word {
                    "cumsum" => ScanKind::Cumsum,
                    "cumprod" => ScanKind::Cumprod,
                    _ => return Err(self.error(codes::BAD_ATTRIBUTE, word_at, format!("unknown scan `{word}`"))),
                };
                OpKind::Scan { kind, axis: 0, reverse: false }
            }
            "for" => OpKind::For,
            "if" => OpKind::If,
            "while" => OpKind::While,
            "yield" => OpKind::Yield,
            "condition" => OpKind::Condition,
            "return" => OpKind::Return,
            _ => return Err(self.error(codes::UNKNOWN_OP, at, format!("unknown op `{mnemonic}`"))),
        })
    }

    /// Fill `kind`'s dictionary attributes, rejecting unknown or ill-typed ones.
    fn apply_attrs(&self, kind: &mut OpKind, n_operands: usize, attrs: Vec<(String, Attr, usize)>) -> PResult<()> {
        if let OpKind::Load { masked, has_other } = kind {
            (*masked, *has_other) = load_flags(n_operands);
        }
        if let OpKind::Store { masked } | OpKind::AtomicAdd { masked } = kind {
            *masked = n_operands >= 3;
        }
        let mnemonic = kind.mnemonic();
        for (key, value, at) in attrs {
            let bad = |what: &str| {
                self.error(codes::BAD_ATTRIBUTE, at, format!("attribute `{key}` of `{mnemonic}` must be {what}"))
            };
            let u32_of = |v: i64| u32::try_from(v).map_err(|_| bad("a non-negative integer"));
            let list_of = |value: &Attr| match value {
                Attr::List(items) => items.iter().map(|&v| u32_of(v)).collect::<PResult<Vec<u32>>>(),
                _ => Err(bad("a list of integers")),
            };
            let bool_of = |value: &Attr| match value {
                Attr::Bool(b) => Ok(*b),
                Attr::Unit => Ok(true),
                _ => Err(bad("`true` or `false`")),
            };
            match (&mut *kind, key.as_str()) {
                (OpKind::ExpandDims(axis) | OpKind::Reduce { axis, .. } | OpKind::Scan { axis, .. }, "axis") => {
                    match value {
                        Attr::Int(v) => *axis = u32_of(v)?,
                        _ => return Err(bad("an integer")),
                    }
                }
                (OpKind::Scan { reverse, .. }, "reverse") => *reverse = bool_of(&value)?,
                (OpKind::Permute(perm), "perm") => *perm = list_of(&value)?,
                (OpKind::MakeBlockPtr { order }, "order") => *order = list_of(&value)?,
                (
                    OpKind::LoadBlock { boundary_check, .. } | OpKind::StoreBlock { boundary_check },
                    "boundary_check",
                ) => *boundary_check = list_of(&value)?,
                (OpKind::LoadBlock { padding, .. }, "padding") => {
                    *padding = match value {
                        Attr::Word(w) if w == "zero" => Padding::Zero,
                        Attr::Word(w) if w == "nan" => Padding::Nan,
                        _ => return Err(bad("`zero` or `nan`")),
                    }
                }
                (OpKind::LoadBlock { evict, .. }, "evict") => {
                    *evict = match value {
                        Attr::Word(w) => Evict::ALL.into_iter().find(|e| e.name() == w),
                        _ => None,
                    }
                    .ok_or_else(|| bad("`first`, `last` or `normal`"))?
                }
                (OpKind::Dot { precision }, "precision") => {
                    *precision = match value {
                        Attr::Word(w) if w == "tf32" => DotPrecision::Tf32,
                        Attr::Word(w) if w == "ieee" => DotPrecision::Ieee,
                        _ => return Err(bad("`tf32` or `ieee`")),
                    }
                }
                (OpKind::Load { masked, .. } | OpKind::Store { masked } | OpKind::AtomicAdd { masked }, "masked") => {
                    *masked = bool_of(&value)?
                }
                (OpKind::Load { has_other, .. }, "other") => *has_other = bool_of(&value)?,
                _ => {
                    return Err(self.error(codes::BAD_ATTRIBUTE, at, format!("`{mnemonic}` has no attribute `{key}`")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::print_kernel;

    fn err(text: &str) -> IrParseError {
        match parse_kernel(text) {
            Ok(k) => panic!("parsed:\n{}", print_kernel(&k)),
            Err(e) => e,
        }
    }

    const HEAD: &str = "kernel @k(%0: i32 \"n\") {\n";

    #[test]
    fn named_values_are_renumbered() {
        let k = parse_kernel(
            "kernel @k(%n: i32 \"n\") {\n  %two = constant 2 : i32\n  %sum = add %n, %two : i32 loc(3:4)\n  return\n}",
        )
        .unwrap();
        assert_eq!(k.values.len(), 3);
        assert_eq!(
            print_kernel(&k),
            "kernel @k(%0: i32 \"n\") source(\"\") grid(1) warps(4) stages(1) {
  %1 = constant 2 : i32
  %2 = add %0, %1 : i32 loc(3:4)
  return
}
"
        );
    }

    #[test]
    fn error_codes_and_locations() {
        let e = err(&format!("{HEAD}  %1 = add %0, %0 : foo\n}}"));
        assert_eq!((e.code, e.line, e.col), (codes::EXPECTED_TOKEN, 2, 21));
        assert_eq!(e.to_string(), "error[E0502]: expected type, found `foo` at 2:21");
        let e = err(&format!("{HEAD}  %1 = add %0, %7 : i32\n}}"));
        assert_eq!((e.code, e.message.as_str()), (codes::UNDEFINED_VALUE, "use of undefined value %7"));
        let e = err(&format!("{HEAD}  %0 = add %0, %0 : i32\n}}"));
        assert_eq!((e.code, e.message.as_str()), (codes::REDEFINED_VALUE, "redefinition of %0"));
        assert_eq!(err(&format!("{HEAD}  %1 = frob %0 : i32\n}}")).code, codes::UNKNOWN_OP);
        assert_eq!(err(&format!("{HEAD}  %1 = expand_dims %0 {{axis = x}} : i32\n}}")).code, codes::BAD_ATTRIBUTE);
        assert_eq!(err(&format!("{HEAD}  %1 = neg %0 {{axis = 1}} : i32\n}}")).code, codes::BAD_ATTRIBUTE);
        assert_eq!(err(&format!("{HEAD}  %1, %2 = neg %0 : i32\n}}")).code, codes::RESULT_TYPE_COUNT);
        assert_eq!(err(&format!("{HEAD}  %1 = constant 99999999999999999999 : i64\n}}")).code, codes::BAD_LITERAL);
        assert_eq!(err(&format!("{HEAD}  %1 = neg %0 : i32 $\n}}")).code, codes::UNEXPECTED_CHAR);
        assert_eq!(err("kernel @k() warps(4) warps(8) {\n}").code, codes::BAD_HEADER);
        assert_eq!(err("kernel @k() colour(4) {\n}").code, codes::BAD_HEADER);
    }

    #[test]
    fn region_values_are_scoped() {
        let text = format!(
            "{HEAD}  %c = constant true : i1\n  if %c {{\n    %x = neg %0 : i32\n    yield\n  }} else {{\n    yield\n  }}\n  %y = neg %x : i32\n  return\n}}"
        );
        let e = err(&text);
        assert_eq!(e.code, codes::UNDEFINED_VALUE);
        assert_eq!(e.message, "use of value %x outside the region defining it");
        assert_eq!(e.line, 9);
    }

    #[test]
    fn an_op_after_the_terminator_is_reported_there() {
        let e = err(&format!(
            "{HEAD}  return
  %1 = neg %0 : i32
}}"
        ));
        assert_eq!((e.code, e.line, e.col), (codes::TERMINATOR_NOT_LAST, 3, 3));
        assert_eq!(e.message, "expected `}` after the terminator `return`, found another op");
        // Operands still run on across lines when no `=` follows them.
        let k = parse_kernel(&format!(
            "{HEAD}  %c = constant true : i1
  if %c {{
    yield
  }} else {{
    yield
  }}
  return
}}"
        ));
        assert!(k.is_ok(), "{k:?}");
    }

    #[test]
    fn letters_glued_to_a_number_make_a_bad_literal() {
        let e = err(&format!(
            "{HEAD}  %1 = constant 1e3x : i32
  return
}}"
        ));
        assert_eq!((e.code, e.line, e.col), (codes::BAD_LITERAL, 2, 17));
        assert_eq!(e.message, "malformed float `1e3x`");
        let e = err(&format!(
            "{HEAD}  %1 = constant 12ab : i32
  return
}}"
        ));
        assert_eq!((e.code, e.message.as_str()), (codes::BAD_LITERAL, "malformed number `12ab`"));
    }

    #[test]
    fn header_round_trips() {
        let text = "kernel @\"odd name\"(%0: ptr<f16> \"x\" {div = 16, contig}, %1: i32 \"n\") source(\"a \\\"b\\\".tsr\") consts(BLOCK = 64, EPS = 1e-5, FLAG = true) grid(cdiv(n, 64), (n - -1), max(\"my n\", 2)) warps(8) stages(3) tune(BLOCK = [32, 64], warps = [4, 8]) key(n) {
  return
}
";
        let k = parse_kernel(text).unwrap();
        assert_eq!(k.name, "odd name");
        assert_eq!(k.source, "a \"b\".tsr");
        assert_eq!(k.params[0].hints, ParamHints { divisibility: Some(16), contiguous: true });
        assert_eq!(k.meta.grid.len(), 3);
        assert_eq!(k.meta.tune.len(), 4);
        assert_eq!(print_kernel(&k), text);
    }

    #[test]
    fn module_holds_several_kernels() {
        let one = "kernel @a() source(\"\") grid(1) warps(4) stages(1) {\n  return\n}\n";
        let m = parse_module(&format!("// two kernels\n{one}\n{}", one.replace("@a", "@b"))).unwrap();
        assert_eq!(m.kernels.len(), 2);
        assert_eq!(m.kernels[1].name, "b");
        assert!(parse_module("").unwrap().kernels.is_empty());
    }
}
