//! MLIR text emission: SSA names, nesting, and one helper per operation form.
//!
//! The lowering prints MLIR in the dialects' custom syntax and lets MLIR's
//! parser build the module (its diagnostics become `E0800` errors naming the
//! line). Every SSA name is unique in the function, so values defined in an
//! enclosing region can be used in nested ones without renaming.

use std::fmt::Write as _;

use tessera_tir::{ElemType, ScalarType};

/// The MLIR type of a tile-IR element in registers.
pub fn elem_type(elem: ElemType) -> &'static str {
    match elem {
        ElemType::Scalar(s) => scalar_type(s),
        ElemType::Ptr(_) => "!llvm.ptr<1>",
    }
}

/// The MLIR type of a scalar element type.
pub fn scalar_type(s: ScalarType) -> &'static str {
    match s {
        ScalarType::I1 => "i1",
        ScalarType::I8 => "i8",
        ScalarType::I16 => "i16",
        ScalarType::I32 => "i32",
        ScalarType::I64 => "i64",
        ScalarType::F16 => "f16",
        ScalarType::BF16 => "bf16",
        ScalarType::F32 => "f32",
        ScalarType::F64 => "f64",
    }
}

/// The type an element is stored as in memory (`i1` occupies a byte).
pub fn memory_type(elem: ElemType) -> &'static str {
    match elem {
        ElemType::Scalar(ScalarType::I1) => "i8",
        other => elem_type(other),
    }
}

/// Bytes of one element in memory (pointers: 8).
pub fn memory_bytes(elem: ElemType) -> u32 {
    match elem {
        ElemType::Scalar(s) => s.bytes(),
        ElemType::Ptr(_) => 8,
    }
}

/// Round an f64 to f32 by round-to-odd (as the interpreter does before
/// rounding to a 16-bit float, so that the two roundings equal one).
pub fn f64_to_f32_odd(x: f64) -> f32 {
    let f = x as f32;
    if !f.is_finite() || f64::from(f) == x {
        return f;
    }
    let mut bits = f.to_bits();
    if f64::from(f).abs() > x.abs() {
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// The lines of one function body under construction.
#[derive(Debug, Default)]
pub struct Writer {
    lines: Vec<String>,
    depth: usize,
    next: u32,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { lines: Vec::new(), depth: 2, next: 0 }
    }

    /// A fresh SSA name.
    pub fn fresh(&mut self) -> String {
        self.next += 1;
        format!("%v{}", self.next)
    }

    /// Appends one line at the current depth.
    pub fn line(&mut self, text: impl AsRef<str>) {
        let mut line = "  ".repeat(self.depth);
        line.push_str(text.as_ref());
        self.lines.push(line);
    }

    /// Appends `%vN = rhs` and returns `%vN`.
    pub fn def(&mut self, rhs: impl AsRef<str>) -> String {
        let name = self.fresh();
        self.line(format!("{name} = {}", rhs.as_ref()));
        name
    }

    pub fn open(&mut self, text: impl AsRef<str>) {
        self.line(text);
        self.depth += 1;
    }

    pub fn close(&mut self, text: impl AsRef<str>) {
        self.depth = self.depth.saturating_sub(1);
        self.line(text);
    }

    pub fn finish(self) -> String {
        let mut out = String::new();
        for line in self.lines {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    // ---- arith ----

    pub fn int(&mut self, value: i64, ty: &str) -> String {
        if ty == "i1" {
            return self.def(format!("arith.constant {}", if value & 1 != 0 { "true" } else { "false" }));
        }
        self.def(format!("arith.constant {value} : {ty}"))
    }

    pub fn i32(&mut self, value: i64) -> String {
        self.int(value, "i32")
    }

    /// A float constant of type `ty`, rounded as the interpreter rounds constants.
    pub fn float(&mut self, value: f64, ty: &str) -> String {
        let bits = match ty {
            "f64" => format!("0x{:016X}", value.to_bits()),
            "f32" => format!("0x{:08X}", (value as f32).to_bits()),
            _ => {
                // f16/bf16: round once through an f32 rounded to odd.
                let wide = format!("0x{:08X}", f64_to_f32_odd(value).to_bits());
                let f = self.def(format!("arith.constant {wide} : f32"));
                return self.def(format!("arith.truncf {f} : f32 to {ty}"));
            }
        };
        self.def(format!("arith.constant {bits} : {ty}"))
    }

    pub fn bin(&mut self, op: &str, a: &str, b: &str, ty: &str) -> String {
        self.def(format!("arith.{op} {a}, {b} : {ty}"))
    }

    pub fn cmpi(&mut self, pred: &str, a: &str, b: &str, ty: &str) -> String {
        self.def(format!("arith.cmpi {pred}, {a}, {b} : {ty}"))
    }

    pub fn cmpf(&mut self, pred: &str, a: &str, b: &str, ty: &str) -> String {
        self.def(format!("arith.cmpf {pred}, {a}, {b} : {ty}"))
    }

    pub fn select(&mut self, cond: &str, a: &str, b: &str, ty: &str) -> String {
        self.def(format!("arith.select {cond}, {a}, {b} : {ty}"))
    }

    /// A conversion op `arith.<op> x : from to to`.
    pub fn conv(&mut self, op: &str, x: &str, from: &str, to: &str) -> String {
        if from == to {
            return x.to_string();
        }
        self.def(format!("arith.{op} {x} : {from} to {to}"))
    }

    /// An LLVM intrinsic in generic form: `"llvm.intr.<name>"(args) : (types) -> ty`.
    pub fn intr(&mut self, name: &str, args: &[&str], ty: &str) -> String {
        let types = vec![ty; args.len()].join(", ");
        self.def(format!("\"llvm.intr.{name}\"({}) : ({types}) -> {ty}", args.join(", ")))
    }

    pub fn and(&mut self, a: &str, b: &str) -> String {
        self.bin("andi", a, b, "i1")
    }

    pub fn not(&mut self, a: &str) -> String {
        let t = self.int(1, "i1");
        self.bin("xori", a, &t, "i1")
    }

    // ---- llvm ----

    pub fn gep(&mut self, ptr: &str, index: &str, index_ty: &str, ptr_ty: &str, elem: &str) -> String {
        self.def(format!("llvm.getelementptr {ptr}[{index}] : ({ptr_ty}, {index_ty}) -> {ptr_ty}, {elem}"))
    }

    pub fn load(&mut self, ptr: &str, ptr_ty: &str, ty: &str, align: u32) -> String {
        self.def(format!("llvm.load {ptr} {{alignment = {align} : i64}} : {ptr_ty} -> {ty}"))
    }

    pub fn store(&mut self, value: &str, ptr: &str, ty: &str, ptr_ty: &str, align: u32) {
        self.line(format!("llvm.store {value}, {ptr} {{alignment = {align} : i64}} : {ty}, {ptr_ty}"));
    }

    pub fn barrier(&mut self) {
        self.line("nvvm.barrier0");
    }
}

impl Writer {
    /// Re-opens a nesting level after a `} else {` line written with [`Writer::close`].
    pub fn depth_in(&mut self) {
        self.depth += 1;
    }
}
