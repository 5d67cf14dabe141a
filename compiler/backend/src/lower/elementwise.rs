//! Elementwise ops and constants, one register at a time, with the
//! interpreter's semantics: integers wrap, f16/bf16 compute in f32 and round
//! after every op, float min/max propagate NaN (`minimumf`/`maximumf`), casts
//! as documented on `OpKind::Cast`, transcendental functions through
//! [`super::math`].

use tessera_tir::{BinaryOp, CmpPred, Constant, ElemType, Op, OpKind, ScalarType, UnaryOp};

use super::Lowerer;
use super::text::{elem_type, scalar_type};
use crate::error::{Result, Stage};

impl Lowerer<'_, '_> {
    /// A constant of element type `elem`, converted the way the interpreter converts.
    pub(super) fn constant(&mut self, op: &Op, c: &Constant, elem: ElemType) -> Result<String> {
        let ElemType::Scalar(s) = elem else {
            return Err(Self::err(op, Stage::UnsupportedOp, "pointer constants are not supported"));
        };
        let ty = scalar_type(s);
        Ok(match (c, s.is_float()) {
            (Constant::Float(x), true) => self.w.float(*x, ty),
            (Constant::Int(i), true) => self.w.float(*i as f64, ty),
            (Constant::Bool(b), true) => self.w.float(if *b { 1.0 } else { 0.0 }, ty),
            (Constant::Int(i), false) if s.is_bool() => self.w.int(i64::from(*i != 0), ty),
            (Constant::Float(x), false) if s.is_bool() => self.w.int(i64::from(*x != 0.0), ty),
            (Constant::Int(i), false) => self.w.int(wrap(*i, s), ty),
            (Constant::Float(x), false) => self.w.int(wrap(saturate(*x, s), s), ty),
            (Constant::Bool(b), false) => self.w.int(i64::from(*b), ty),
        })
    }

    /// Applies elementwise `op` to operands given as registers in one layout.
    pub(super) fn apply_elementwise(&mut self, op: &Op, operands: &[Vec<String>]) -> Result<Vec<String>> {
        let result = Self::result_value(op, 0)?;
        let result_elem = self.elem_of(result)?;
        let operand_elems: Vec<ElemType> = op.operands.iter().map(|&v| self.elem_of(v)).collect::<Result<Vec<_>>>()?;
        let n = operands.first().map_or(0, Vec::len);
        if operands.iter().any(|regs| regs.len() != n) {
            return Err(Self::err(op, Stage::Layout, "operands have different register counts"));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let args: Vec<&str> = operands.iter().map(|regs| regs[i].as_str()).collect();
            out.push(self.scalar_op(op, &args, &operand_elems, result_elem)?);
        }
        Ok(out)
    }

    fn scalar_op(&mut self, op: &Op, args: &[&str], elems: &[ElemType], result: ElemType) -> Result<String> {
        let arg = |i: usize| args.get(i).copied().ok_or_else(|| Self::err(op, Stage::MalformedIr, "missing operand"));
        let scalar = |e: Option<&ElemType>| e.and_then(|e| e.scalar());
        match &op.kind {
            OpKind::Unary(u) => {
                let s =
                    scalar(elems.first()).ok_or_else(|| Self::err(op, Stage::MalformedIr, "unary op on a pointer"))?;
                self.unary(op, *u, arg(0)?, s)
            }
            OpKind::Binary(b) => {
                let s =
                    scalar(elems.first()).ok_or_else(|| Self::err(op, Stage::MalformedIr, "binary op on a pointer"))?;
                self.binary(*b, arg(0)?, arg(1)?, s)
            }
            OpKind::Compare(pred) => match elems.first() {
                Some(ElemType::Scalar(s)) => self.compare(*pred, arg(0)?, arg(1)?, *s),
                Some(ElemType::Ptr(_)) => {
                    let p = match pred {
                        CmpPred::Eq => "eq",
                        CmpPred::Ne => "ne",
                        CmpPred::Lt => "ult",
                        CmpPred::Le => "ule",
                        CmpPred::Gt => "ugt",
                        CmpPred::Ge => "uge",
                    };
                    Ok(self.w.def(format!("llvm.icmp \"{p}\" {}, {} : !llvm.ptr<1>", arg(0)?, arg(1)?)))
                }
                None => Err(Self::err(op, Stage::MalformedIr, "compare without operands")),
            },
            OpKind::Select => Ok(self.w.select(arg(0)?, arg(1)?, arg(2)?, elem_type(result))),
            OpKind::Cast => {
                let from =
                    scalar(elems.first()).ok_or_else(|| Self::err(op, Stage::UnsupportedOp, "cast of a pointer"))?;
                let to = result.scalar().ok_or_else(|| Self::err(op, Stage::UnsupportedOp, "cast to a pointer"))?;
                Ok(self.cast(arg(0)?, from, to))
            }
            OpKind::AddPtr => {
                let pointee = result
                    .pointee()
                    .ok_or_else(|| Self::err(op, Stage::MalformedIr, "addptr result is not a pointer"))?;
                let offset_ty =
                    scalar(elems.get(1)).ok_or_else(|| Self::err(op, Stage::MalformedIr, "addptr offset"))?;
                let mut offset = arg(1)?.to_string();
                let mut ty = scalar_type(offset_ty);
                if offset_ty == ScalarType::I1 {
                    offset = self.w.conv("extui", &offset, "i1", "i32");
                    ty = "i32";
                }
                let elem = super::text::memory_type(ElemType::Scalar(pointee));
                Ok(self.w.gep(arg(0)?, &offset, ty, "!llvm.ptr<1>", elem))
            }
            _ => Err(Self::err(op, Stage::Layout, "not an elementwise op")),
        }
    }

    /// Float ops on f16/bf16 run in f32: widen, compute, round back.
    fn via_f32(&mut self, x: &str, s: ScalarType, f: impl FnOnce(&mut Self, &str) -> Result<String>) -> Result<String> {
        let ty = scalar_type(s);
        if matches!(s, ScalarType::F16 | ScalarType::BF16) {
            let wide = self.w.conv("extf", x, ty, "f32");
            let r = f(self, &wide)?;
            Ok(self.w.conv("truncf", &r, "f32", ty))
        } else {
            f(self, x)
        }
    }

    fn unary(&mut self, op: &Op, u: UnaryOp, x: &str, s: ScalarType) -> Result<String> {
        let ty = scalar_type(s);
        if s.is_bool() {
            return Ok(match u {
                UnaryOp::Neg | UnaryOp::Abs => x.to_string(),
                UnaryOp::Not => self.w.not(x),
                _ => return Err(Self::err(op, Stage::MalformedIr, format!("`{}` on i1", u.name()))),
            });
        }
        if s.is_int() {
            return Ok(match u {
                UnaryOp::Neg => {
                    let zero = self.w.int(0, ty);
                    self.w.bin("subi", &zero, x, ty)
                }
                UnaryOp::Not => {
                    let ones = self.w.int(-1, ty);
                    self.w.bin("xori", x, &ones, ty)
                }
                UnaryOp::Abs => {
                    let zero = self.w.int(0, ty);
                    let neg = self.w.bin("subi", &zero, x, ty);
                    let is_neg = self.w.cmpi("slt", x, &zero, ty);
                    self.w.select(&is_neg, &neg, x, ty)
                }
                _ => return Err(Self::err(op, Stage::MalformedIr, format!("`{}` on an integer", u.name()))),
            });
        }
        self.via_f32(x, s, |this, x| {
            let fty = if s == ScalarType::F64 { "f64" } else { "f32" };
            Ok(match u {
                UnaryOp::Neg => this.w.def(format!("arith.negf {x} : {fty}")),
                UnaryOp::Abs => this.w.intr("fabs", &[x], fty),
                UnaryOp::Sqrt => this.w.intr("sqrt", &[x], fty),
                UnaryOp::Rsqrt if fty == "f32" => this.w.rsqrt_f32(x),
                UnaryOp::Rsqrt => {
                    // 1 / sqrt(x), both correctly rounded, as the interpreter computes it.
                    let root = this.w.intr("sqrt", &[x], fty);
                    let one = this.w.float(1.0, fty);
                    this.w.bin("divf", &one, &root, fty)
                }
                // f32 (and f16/bf16 widened to it): the SFU fast paths of `math.rs`.
                UnaryOp::Exp if fty == "f32" => this.w.exp_f32(x),
                UnaryOp::Exp2 if fty == "f32" => this.w.exp2_f32(x),
                UnaryOp::Log if fty == "f32" => this.w.log_f32(x),
                UnaryOp::Log2 if fty == "f32" => this.w.log2_f32(x),
                UnaryOp::Tanh if fty == "f32" => this.w.tanh_f32(x),
                UnaryOp::Sigmoid if fty == "f32" => this.w.sigmoid_f32(x),
                UnaryOp::Floor => this.w.intr("floor", &[x], fty),
                UnaryOp::Ceil => this.w.intr("ceil", &[x], fty),
                UnaryOp::Not => return Err(Self::err(op, Stage::MalformedIr, "`not` on a float")),
                UnaryOp::Exp
                | UnaryOp::Exp2
                | UnaryOp::Log
                | UnaryOp::Log2
                | UnaryOp::Sin
                | UnaryOp::Cos
                | UnaryOp::Tanh
                | UnaryOp::Sigmoid => {
                    let wide = this.w.conv("extf", x, fty, "f64");
                    let y = match u {
                        UnaryOp::Exp => this.w.exp_f64(&wide),
                        UnaryOp::Exp2 => {
                            let ln2 = this.w.float(std::f64::consts::LN_2, "f64");
                            let scaled = this.w.bin("mulf", &wide, &ln2, "f64");
                            this.w.exp_f64(&scaled)
                        }
                        UnaryOp::Log => this.w.log_f64(&wide),
                        UnaryOp::Log2 => {
                            let ln = this.w.log_f64(&wide);
                            let log2e = this.w.float(std::f64::consts::LOG2_E, "f64");
                            this.w.bin("mulf", &ln, &log2e, "f64")
                        }
                        UnaryOp::Sin => this.w.sin_cos_f64(&wide, false),
                        UnaryOp::Cos => this.w.sin_cos_f64(&wide, true),
                        UnaryOp::Tanh => this.w.tanh_f64(&wide),
                        _ => this.w.sigmoid_f64(&wide),
                    };
                    this.w.conv("truncf", &y, "f64", fty)
                }
            })
        })
    }

    pub(super) fn binary(&mut self, b: BinaryOp, x: &str, y: &str, s: ScalarType) -> Result<String> {
        let ty = scalar_type(s);
        if s.is_bool() {
            return Ok(match b {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Xor => self.w.bin("xori", x, y, ty),
                BinaryOp::Mul | BinaryOp::And | BinaryOp::Min => self.w.bin("andi", x, y, ty),
                BinaryOp::Or | BinaryOp::Max => self.w.bin("ori", x, y, ty),
                // x / 1 = x, x % 1 = 0; shifts of one bit are the identity.
                BinaryOp::Shl | BinaryOp::Shr | BinaryOp::Div => x.to_string(),
                BinaryOp::Rem => self.w.int(0, ty),
            });
        }
        if s.is_int() {
            return Ok(match b {
                BinaryOp::Add => self.w.bin("addi", x, y, ty),
                BinaryOp::Sub => self.w.bin("subi", x, y, ty),
                BinaryOp::Mul => self.w.bin("muli", x, y, ty),
                BinaryOp::Min => self.w.bin("minsi", x, y, ty),
                BinaryOp::Max => self.w.bin("maxsi", x, y, ty),
                BinaryOp::And => self.w.bin("andi", x, y, ty),
                BinaryOp::Or => self.w.bin("ori", x, y, ty),
                BinaryOp::Xor => self.w.bin("xori", x, y, ty),
                BinaryOp::Shl | BinaryOp::Shr => {
                    let mask = self.w.int(i64::from(s.bits()) - 1, ty);
                    let amount = self.w.bin("andi", y, &mask, ty);
                    self.w.bin(if b == BinaryOp::Shl { "shli" } else { "shrsi" }, x, &amount, ty)
                }
                BinaryOp::Div | BinaryOp::Rem => {
                    // Division by 0 is an error in the interpreter and must not be
                    // UB here; MIN / -1 wraps (the quotient is -x, the remainder 0).
                    let (zero, one, minus_one) = (self.w.int(0, ty), self.w.int(1, ty), self.w.int(-1, ty));
                    let is_zero = self.w.cmpi("eq", y, &zero, ty);
                    let is_minus_one = self.w.cmpi("eq", y, &minus_one, ty);
                    let unsafe_divisor = self.w.bin("ori", &is_zero, &is_minus_one, "i1");
                    let divisor = self.w.select(&unsafe_divisor, &one, y, ty);
                    if b == BinaryOp::Div {
                        let q = self.w.bin("divsi", x, &divisor, ty);
                        let neg = self.w.bin("subi", &zero, x, ty);
                        self.w.select(&is_minus_one, &neg, &q, ty)
                    } else {
                        let r = self.w.bin("remsi", x, &divisor, ty);
                        self.w.select(&is_minus_one, &zero, &r, ty)
                    }
                }
            });
        }
        let wide = matches!(s, ScalarType::F16 | ScalarType::BF16);
        let fty = if s == ScalarType::F64 { "f64" } else { "f32" };
        let (x, y) = if wide {
            (self.w.conv("extf", x, ty, "f32"), self.w.conv("extf", y, ty, "f32"))
        } else {
            (x.to_string(), y.to_string())
        };
        let r = match b {
            BinaryOp::Add => self.w.bin("addf", &x, &y, fty),
            BinaryOp::Sub => self.w.bin("subf", &x, &y, fty),
            BinaryOp::Mul => self.w.bin("mulf", &x, &y, fty),
            BinaryOp::Div => self.w.bin("divf", &x, &y, fty),
            BinaryOp::Rem => self.w.bin("remf", &x, &y, fty),
            BinaryOp::Min => self.w.bin("minimumf", &x, &y, fty),
            BinaryOp::Max => self.w.bin("maximumf", &x, &y, fty),
            BinaryOp::And | BinaryOp::Or | BinaryOp::Xor | BinaryOp::Shl | BinaryOp::Shr => {
                return Err(crate::error::BackendError::new(Stage::MalformedIr, format!("`{}` on floats", b.name())));
            }
        };
        Ok(if wide { self.w.conv("truncf", &r, "f32", ty) } else { r })
    }

    fn compare(&mut self, pred: CmpPred, x: &str, y: &str, s: ScalarType) -> Result<String> {
        let ty = scalar_type(s);
        if s.is_float() {
            let (x, y, fty) = if matches!(s, ScalarType::F16 | ScalarType::BF16) {
                (self.w.conv("extf", x, ty, "f32"), self.w.conv("extf", y, ty, "f32"), "f32")
            } else {
                (x.to_string(), y.to_string(), ty)
            };
            let p = match pred {
                CmpPred::Eq => "oeq",
                CmpPred::Ne => "une",
                CmpPred::Lt => "olt",
                CmpPred::Le => "ole",
                CmpPred::Gt => "ogt",
                CmpPred::Ge => "oge",
            };
            return Ok(self.w.cmpf(p, &x, &y, fty));
        }
        // i1 orders false < true: unsigned.
        let signed = !s.is_bool();
        let p = match (pred, signed) {
            (CmpPred::Eq, _) => "eq",
            (CmpPred::Ne, _) => "ne",
            (CmpPred::Lt, true) => "slt",
            (CmpPred::Le, true) => "sle",
            (CmpPred::Gt, true) => "sgt",
            (CmpPred::Ge, true) => "sge",
            (CmpPred::Lt, false) => "ult",
            (CmpPred::Le, false) => "ule",
            (CmpPred::Gt, false) => "ugt",
            (CmpPred::Ge, false) => "uge",
        };
        Ok(self.w.cmpi(p, x, y, ty))
    }

    /// `Cast` semantics: float->float rounds to nearest even (f64 -> 16-bit
    /// once, through round-to-odd f32), float->int truncates saturating with
    /// NaN -> 0, int->int wraps or sign-extends (i1 zero-extends), ->i1 is `!= 0`.
    pub(super) fn cast(&mut self, x: &str, from: ScalarType, to: ScalarType) -> String {
        let (fty, tty) = (scalar_type(from), scalar_type(to));
        if from == to {
            return x.to_string();
        }
        let half = |s: ScalarType| matches!(s, ScalarType::F16 | ScalarType::BF16);
        if to.is_bool() {
            if from.is_float() {
                let wide = if half(from) { self.w.conv("extf", x, fty, "f32") } else { x.to_string() };
                let wty = if half(from) { "f32" } else { fty };
                let zero = self.w.float(0.0, wty);
                return self.w.cmpf("une", &wide, &zero, wty);
            }
            let zero = self.w.int(0, fty);
            return self.w.cmpi("ne", x, &zero, fty);
        }
        match (from.is_float(), to.is_float()) {
            (true, true) => {
                if from.bits() < to.bits() || (half(from) && half(to)) {
                    let wide = self.w.conv("extf", x, fty, "f32");
                    return if to == ScalarType::F32 {
                        wide
                    } else {
                        self.w.conv(if half(to) { "truncf" } else { "extf" }, &wide, "f32", tty)
                    };
                }
                if from == ScalarType::F64 && half(to) {
                    let odd = self.f64_to_f32_odd(x);
                    return self.w.conv("truncf", &odd, "f32", tty);
                }
                self.w.conv("truncf", x, fty, tty)
            }
            (true, false) => {
                let (wide, wty) =
                    if half(from) { (self.w.conv("extf", x, fty, "f32"), "f32") } else { (x.to_string(), fty) };
                self.fptosi_saturating(&wide, wty, to)
            }
            (false, true) => {
                let op = if from.is_bool() { "uitofp" } else { "sitofp" };
                if half(to) {
                    let wide = self.w.conv(op, x, fty, "f64");
                    let odd = self.f64_to_f32_odd(&wide);
                    self.w.conv("truncf", &odd, "f32", tty)
                } else {
                    self.w.conv(op, x, fty, tty)
                }
            }
            (false, false) => {
                if from.is_bool() {
                    self.w.conv("extui", x, fty, tty)
                } else if from.bits() < to.bits() {
                    self.w.conv("extsi", x, fty, tty)
                } else {
                    self.w.conv("trunci", x, fty, tty)
                }
            }
        }
    }

    /// Float -> integer truncating toward zero, saturating at the type's
    /// range, NaN -> 0 (the operand of the conversion itself is always in range).
    fn fptosi_saturating(&mut self, x: &str, fty: &str, to: ScalarType) -> String {
        let tty = scalar_type(to);
        let bits = to.bits();
        let w = &mut self.w;
        let lo = w.float(-(2f64.powi(bits as i32 - 1)), fty);
        let hi = w.float(2f64.powi(bits as i32 - 1), fty);
        let nan = w.cmpf("uno", x, x, fty);
        let too_low = w.cmpf("olt", x, &lo, fty);
        let too_high = w.cmpf("oge", x, &hi, fty);
        let out = w.bin("ori", &nan, &too_low, "i1");
        let out = w.bin("ori", &out, &too_high, "i1");
        let zero = w.float(0.0, fty);
        let safe = w.select(&out, &zero, x, fty);
        let r = w.conv("fptosi", &safe, fty, tty);
        let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
        let min = w.int(min as i64, tty);
        let max = w.int(max as i64, tty);
        let r = w.select(&too_high, &max, &r, tty);
        let r = w.select(&too_low, &min, &r, tty);
        let zero = w.int(0, tty);
        w.select(&nan, &zero, &r, tty)
    }

    /// f64 -> f32 rounding to odd (see [`super::text::f64_to_f32_odd`]).
    fn f64_to_f32_odd(&mut self, x: &str) -> String {
        let w = &mut self.w;
        let f = w.conv("truncf", x, "f64", "f32");
        let back = w.conv("extf", &f, "f32", "f64");
        let inexact = w.cmpf("one", &back, x, "f64");
        let abs_f = w.intr("fabs", &[&f], "f32");
        let inf = w.float(f64::INFINITY, "f32");
        let finite = w.cmpf("olt", &abs_f, &inf, "f32");
        let fix = w.and(&inexact, &finite);
        let abs_back = w.intr("fabs", &[&back], "f64");
        let abs_x = w.intr("fabs", &[x], "f64");
        let too_big = w.cmpf("ogt", &abs_back, &abs_x, "f64");
        let bits = w.conv("bitcast", &f, "f32", "i32");
        let one = w.i32(1);
        let lower = w.bin("subi", &bits, &one, "i32");
        let toward_zero = w.select(&too_big, &lower, &bits, "i32");
        let odd = w.bin("ori", &toward_zero, &one, "i32");
        let odd = w.conv("bitcast", &odd, "i32", "f32");
        w.select(&fix, &odd, &f, "f32")
    }
}

/// An integer constant wrapped to the width of `s` (sign-extended back to i64).
fn wrap(v: i64, s: ScalarType) -> i64 {
    match s {
        ScalarType::I8 => i64::from(v as i8),
        ScalarType::I16 => i64::from(v as i16),
        ScalarType::I32 => i64::from(v as i32),
        _ => v,
    }
}

/// A float truncated toward zero, saturating to the range of `s`, NaN -> 0.
fn saturate(x: f64, s: ScalarType) -> i64 {
    match s {
        ScalarType::I8 => i64::from(x as i8),
        ScalarType::I16 => i64::from(x as i16),
        ScalarType::I32 => i64::from(x as i32),
        _ => x as i64,
    }
}
