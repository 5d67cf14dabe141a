//! Transcendental functions.
//!
//! f32 arguments (and f16/bf16 ones, computed in f32) take the fast paths
//! Triton uses, built on the SFU instructions `ex2.approx.f32` and
//! `lg2.approx.f32` (relative error about 2^-22): `exp x = 2^(x log2 e)`,
//! `ln x = log2(x) ln 2`, `rsqrt` is `rsqrt.approx.f32`, and `tanh`/`sigmoid`
//! are rational in `e^x`. `exp` is thereby within a few ulp for the |x| < 10
//! that matter after softmax's max subtraction (the rounding of `x log2 e`
//! grows the error with |x|: about 2^-24 |x log2 e| relative), far inside the
//! f32 tolerance. The non-`ftz` forms keep subnormal inputs and results, as
//! the interpreter does. `sin`/`cos` stay on the accurate f64 path: their
//! range reduction is what makes large arguments right, and no hot loop uses
//! them.
//!
//! f64 arguments (and f32 `sin`/`cos`) are evaluated in f64 with range
//! reduction plus a short polynomial, accurate to a few f64 ulps, because
//! LLVM's NVPTX backend has no accurate `exp`/`log`/`sin` and we do not link
//! libdevice. Trigonometric range reduction uses a two-part pi/2 (Cody and
//! Waite), accurate for |x| below about 2^20 * pi.

use super::text::Writer;

/// fdlibm's split of ln 2: `ln2_hi * n` is exact for |n| < 2^11.
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// fdlibm's split of pi/2.
const PIO2_HI: f64 = f64::from_bits(0x3FF9_21FB_5440_0000);
const PIO2_LO: f64 = f64::from_bits(0x3DD0_B461_1A62_6331);

impl Writer {
    fn f64c(&mut self, v: f64) -> String {
        self.float(v, "f64")
    }

    /// Horner evaluation of `sum coeffs[i] * x^i` in f64 with fused multiply-adds.
    fn poly(&mut self, x: &str, coeffs: &[f64]) -> String {
        self.poly_in(x, coeffs, "f64")
    }

    /// Horner evaluation of `sum coeffs[i] * x^i` in float type `ty`.
    fn poly_in(&mut self, x: &str, coeffs: &[f64], ty: &str) -> String {
        let mut acc = self.float(coeffs.last().copied().unwrap_or(0.0), ty);
        for &c in coeffs.iter().rev().skip(1) {
            let c = self.float(c, ty);
            acc = self.intr("fma", &[&acc, x, &c], ty);
        }
        acc
    }

    /// `2^n` for an integral f64 `n` in [-1022, 1023].
    fn pow2(&mut self, n: &str) -> String {
        let k = self.conv("fptosi", n, "f64", "i64");
        let bias = self.int(1023, "i64");
        let e = self.bin("addi", &k, &bias, "i64");
        let shift = self.int(52, "i64");
        let bits = self.bin("shli", &e, &shift, "i64");
        self.conv("bitcast", &bits, "i64", "f64")
    }

    /// One f32 PTX instruction `{instr} $0, $1;` as pure inline assembly
    /// (no side effects: LLVM may hoist, merge or drop it).
    fn ptx_unary_f32(&mut self, instr: &str, x: &str) -> String {
        self.def(format!("llvm.inline_asm asm_dialect = att \"{instr} $0, $1;\", \"=f,f\" {x} : (f32) -> f32"))
    }

    /// `2^x` in f32 (`ex2.approx.f32`: 2^-22 relative, subnormals kept).
    pub fn exp2_f32(&mut self, x: &str) -> String {
        self.ptx_unary_f32("ex2.approx.f32", x)
    }

    /// `e^x` in f32 as `2^(x log2 e)`; infinities and NaN pass through.
    pub fn exp_f32(&mut self, x: &str) -> String {
        let log2e = self.float(std::f64::consts::LOG2_E, "f32");
        let scaled = self.bin("mulf", x, &log2e, "f32");
        self.exp2_f32(&scaled)
    }

    /// `log2 x` in f32 (`lg2.approx.f32`: 2^-22 absolute; log2 0 = -inf,
    /// negative x gives NaN).
    pub fn log2_f32(&mut self, x: &str) -> String {
        self.ptx_unary_f32("lg2.approx.f32", x)
    }

    /// `ln x` in f32 as `log2(x) ln 2`.
    pub fn log_f32(&mut self, x: &str) -> String {
        let l2 = self.log2_f32(x);
        let ln2 = self.float(std::f64::consts::LN_2, "f32");
        self.bin("mulf", &l2, &ln2, "f32")
    }

    /// `1 / sqrt x` in f32 (`rsqrt.approx.f32`: 2^-22.9 relative).
    pub fn rsqrt_f32(&mut self, x: &str) -> String {
        self.ptx_unary_f32("rsqrt.approx.f32", x)
    }

    /// `tanh x` in f32: the odd Taylor series below |x| = 1/8 (where
    /// `1 - 2 / (e^2|x| + 1)` would cancel), that formula with the sign of x
    /// above. `e^2|x|` overflows to inf for large |x|, giving exactly 1.
    pub fn tanh_f32(&mut self, x: &str) -> String {
        let a = self.intr("fabs", &[x], "f32");
        let x2 = self.bin("mulf", x, x, "f32");
        let coeffs = [1.0, -1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0, 62.0 / 2835.0, -1382.0 / 155925.0];
        let p = self.poly_in(&x2, &coeffs, "f32");
        let small_y = self.bin("mulf", x, &p, "f32");
        let two = self.float(2.0, "f32");
        let one = self.float(1.0, "f32");
        let a2 = self.bin("mulf", &a, &two, "f32");
        let e = self.exp_f32(&a2);
        let e1 = self.bin("addf", &e, &one, "f32");
        let q = self.bin("divf", &two, &e1, "f32");
        let t = self.bin("subf", &one, &q, "f32");
        let big_y = self.intr("copysign", &[&t, x], "f32");
        let threshold = self.float(0.125, "f32");
        let small = self.cmpf("olt", &a, &threshold, "f32");
        self.select(&small, &small_y, &big_y, "f32")
    }

    /// `1 / (1 + e^-x)` in f32 (0 at -inf, 1 at +inf).
    pub fn sigmoid_f32(&mut self, x: &str) -> String {
        let neg = self.def(format!("arith.negf {x} : f32"));
        let e = self.exp_f32(&neg);
        let one = self.float(1.0, "f32");
        let d = self.bin("addf", &one, &e, "f32");
        self.bin("divf", &one, &d, "f32")
    }

    /// `e^x` in f64.
    pub fn exp_f64(&mut self, x: &str) -> String {
        // Clamp (NaN becomes a bound here and is restored at the end).
        let lo = self.f64c(-1100.0);
        let hi = self.f64c(1030.0);
        let xc = self.intr("maxnum", &[x, &lo], "f64");
        let xc = self.intr("minnum", &[&xc, &hi], "f64");
        let log2e = self.f64c(std::f64::consts::LOG2_E);
        let scaled = self.bin("mulf", &xc, &log2e, "f64");
        let n = self.intr("rint", &[&scaled], "f64");
        let neg_n = self.def(format!("arith.negf {n} : f64"));
        let ln2_hi = self.f64c(LN2_HI);
        let ln2_lo = self.f64c(LN2_LO);
        let r = self.intr("fma", &[&neg_n, &ln2_hi, &xc], "f64");
        let r = self.intr("fma", &[&neg_n, &ln2_lo, &r], "f64");
        // |r| <= ln2/2: the Taylor series to degree 13 is exact to 2^-60.
        let mut coeffs = vec![1.0f64];
        for k in 1..=13 {
            let prev = coeffs[k - 1];
            coeffs.push(prev / k as f64);
        }
        let p = self.poly(&r, &coeffs);
        // 2^n in two halves so that neither overflows the exponent field.
        let two = self.f64c(2.0);
        let half = self.bin("divf", &n, &two, "f64");
        let n1 = self.intr("floor", &[&half], "f64");
        let n2 = self.bin("subf", &n, &n1, "f64");
        let s1 = self.pow2(&n1);
        let s2 = self.pow2(&n2);
        let y = self.bin("mulf", &p, &s1, "f64");
        let y = self.bin("mulf", &y, &s2, "f64");
        let nan = self.cmpf("uno", x, x, "f64");
        self.select(&nan, x, &y, "f64")
    }

    /// `ln x` in f64.
    pub fn log_f64(&mut self, x: &str) -> String {
        // Subnormals: scale by 2^54 first.
        let tiny = self.f64c(f64::MIN_POSITIVE);
        let is_tiny = self.cmpf("olt", x, &tiny, "f64");
        let scale = self.f64c(18014398509481984.0);
        let scaled = self.bin("mulf", x, &scale, "f64");
        let xs = self.select(&is_tiny, &scaled, x, "f64");
        let bits = self.conv("bitcast", &xs, "f64", "i64");
        let shift = self.int(52, "i64");
        let biased = self.bin("shrui", &bits, &shift, "i64");
        let bias = self.int(1023, "i64");
        let e = self.bin("subi", &biased, &bias, "i64");
        let mant_mask = self.int(0x000F_FFFF_FFFF_FFFF, "i64");
        let one_bits = self.int(0x3FF0_0000_0000_0000, "i64");
        let m_bits = self.bin("andi", &bits, &mant_mask, "i64");
        let m_bits = self.bin("ori", &m_bits, &one_bits, "i64");
        let m = self.conv("bitcast", &m_bits, "i64", "f64");
        // Bring m into [sqrt(1/2), sqrt(2)).
        let sqrt2 = self.f64c(std::f64::consts::SQRT_2);
        let big = self.cmpf("ogt", &m, &sqrt2, "f64");
        let half = self.f64c(0.5);
        let m_half = self.bin("mulf", &m, &half, "f64");
        let m = self.select(&big, &m_half, &m, "f64");
        let e = self.conv("sitofp", &e, "i64", "f64");
        let one = self.f64c(1.0);
        let e_up = self.bin("addf", &e, &one, "f64");
        let e = self.select(&big, &e_up, &e, "f64");
        let fifty_four = self.f64c(54.0);
        let e_down = self.bin("subf", &e, &fifty_four, "f64");
        let e = self.select(&is_tiny, &e_down, &e, "f64");
        // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
        let f = self.bin("subf", &m, &one, "f64");
        let two = self.f64c(2.0);
        let denom = self.bin("addf", &f, &two, "f64");
        let s = self.bin("divf", &f, &denom, "f64");
        let z = self.bin("mulf", &s, &s, "f64");
        let coeffs: Vec<f64> = (0..12).map(|k| 2.0 / (2 * k + 1) as f64).collect();
        let series = self.poly(&z, &coeffs);
        let ln_m = self.bin("mulf", &s, &series, "f64");
        let ln2_hi = self.f64c(LN2_HI);
        let ln2_lo = self.f64c(LN2_LO);
        let lo = self.intr("fma", &[&e, &ln2_lo, &ln_m], "f64");
        let y = self.intr("fma", &[&e, &ln2_hi, &lo], "f64");
        // Special cases: ln 0 = -inf, ln(x < 0) = NaN, ln inf = inf, NaN stays.
        let zero = self.f64c(0.0);
        let inf = self.f64c(f64::INFINITY);
        let neg_inf = self.f64c(f64::NEG_INFINITY);
        let nan = self.f64c(f64::NAN);
        let is_zero = self.cmpf("oeq", x, &zero, "f64");
        let y = self.select(&is_zero, &neg_inf, &y, "f64");
        let is_inf = self.cmpf("oeq", x, &inf, "f64");
        let y = self.select(&is_inf, &inf, &y, "f64");
        let is_neg = self.cmpf("ult", x, &zero, "f64");
        self.select(&is_neg, &nan, &y, "f64")
    }

    /// `sin x` (or `cos x`) in f64.
    pub fn sin_cos_f64(&mut self, x: &str, cos: bool) -> String {
        let two_over_pi = self.f64c(std::f64::consts::FRAC_2_PI);
        let scaled = self.bin("mulf", x, &two_over_pi, "f64");
        let k = self.intr("rint", &[&scaled], "f64");
        let neg_k = self.def(format!("arith.negf {k} : f64"));
        let hi = self.f64c(PIO2_HI);
        let lo = self.f64c(PIO2_LO);
        let r = self.intr("fma", &[&neg_k, &hi, x], "f64");
        let r = self.intr("fma", &[&neg_k, &lo, &r], "f64");
        let r2 = self.bin("mulf", &r, &r, "f64");
        // Taylor series on |r| <= pi/4, exact to 2^-56.
        let sin_coeffs: Vec<f64> = (0..9).map(|i| sign(i) / factorial(2 * i + 1)).collect();
        let cos_coeffs: Vec<f64> = (0..10).map(|i| sign(i) / factorial(2 * i)).collect();
        let sin_poly = self.poly(&r2, &sin_coeffs);
        let sin_r = self.bin("mulf", &r, &sin_poly, "f64");
        let cos_r = self.poly(&r2, &cos_coeffs);
        // Quadrant q = k mod 4, as a float (no integer conversion of inf/NaN).
        let four = self.f64c(4.0);
        let quarter = self.f64c(0.25);
        let kq = self.bin("mulf", &k, &quarter, "f64");
        let kq = self.intr("floor", &[&kq], "f64");
        let q = self.intr("fma", &[&kq, &four, &neg_k], "f64");
        let q = self.def(format!("arith.negf {q} : f64"));
        let neg_sin = self.def(format!("arith.negf {sin_r} : f64"));
        let neg_cos = self.def(format!("arith.negf {cos_r} : f64"));
        // sin: q = 0, 1, 2, 3 -> sin r, cos r, -sin r, -cos r; cos shifts by one quadrant.
        let table = if cos { [&cos_r, &neg_sin, &neg_cos, &sin_r] } else { [&sin_r, &cos_r, &neg_sin, &neg_cos] };
        let mut y = table[3].clone();
        for q_value in (0..3).rev() {
            let c = self.f64c(f64::from(q_value));
            let hit = self.cmpf("oeq", &q, &c, "f64");
            y = self.select(&hit, table[q_value as usize], &y, "f64");
        }
        y
    }

    /// `tanh x` in f64.
    pub fn tanh_f64(&mut self, x: &str) -> String {
        let a = self.intr("fabs", &[x], "f64");
        // Small |x|: the odd Taylor series (no cancellation).
        let x2 = self.bin("mulf", x, x, "f64");
        let coeffs = [1.0, -1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0, 62.0 / 2835.0];
        let p = self.poly(&x2, &coeffs);
        let small_y = self.bin("mulf", x, &p, "f64");
        // Otherwise 1 - 2 / (e^(2|x|) + 1), with the sign of x.
        let two = self.f64c(2.0);
        let one = self.f64c(1.0);
        let a2 = self.bin("mulf", &a, &two, "f64");
        let e = self.exp_f64(&a2);
        let e1 = self.bin("addf", &e, &one, "f64");
        let q = self.bin("divf", &two, &e1, "f64");
        let t = self.bin("subf", &one, &q, "f64");
        let big_y = self.intr("copysign", &[&t, x], "f64");
        let threshold = self.f64c(0.01);
        let small = self.cmpf("olt", &a, &threshold, "f64");
        self.select(&small, &small_y, &big_y, "f64")
    }

    /// `1 / (1 + e^-x)` in f64.
    pub fn sigmoid_f64(&mut self, x: &str) -> String {
        let neg = self.def(format!("arith.negf {x} : f64"));
        let e = self.exp_f64(&neg);
        let one = self.f64c(1.0);
        let d = self.bin("addf", &one, &e, "f64");
        self.bin("divf", &one, &d, "f64")
    }
}

fn sign(i: u32) -> f64 {
    if i.is_multiple_of(2) { 1.0 } else { -1.0 }
}

fn factorial(n: u32) -> f64 {
    (1..=n).map(f64::from).product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_split_ln2_and_pi_over_2() {
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
        assert_eq!(LN2_LO, 1.908_214_929_270_587_7e-10);
        // 32 significant bits: n * ln2_hi is exact for |n| < 2^21.
        assert_eq!(LN2_HI.to_bits() & 0x1F_FFFF, 0, "ln2_hi has 21 trailing zero bits");
        assert!((PIO2_HI + PIO2_LO - std::f64::consts::FRAC_PI_2).abs() < 1e-16);
        assert_eq!(factorial(5), 120.0);
    }
}
