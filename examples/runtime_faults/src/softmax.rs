//! A correct `softmax_bf16` launch and its host reference, so the fault cases
//! have a control (the same arguments, unbroken, do run) and the PTX fallback
//! is checked for a right answer, not just for launching.

use half::bf16;
use tessera_runtime::{DeviceBuffer, IntoArg, KernelHandle, LaunchArgs, Runtime};

/// The kernel every case launches (kernels-dsl/softmax.tsr).
pub const KERNEL: &str = "softmax_bf16";

/// A ragged shape: `cols` is not a multiple of the block, so masking is exercised.
pub const ROWS: usize = 64;
pub const COLS: usize = 1000;

/// Deterministic inputs in [-2, 2), with every row different.
pub fn input(rows: usize, cols: usize) -> Vec<bf16> {
    (0..rows * cols).map(|i| bf16::from_f32(((i * 37 + i / cols * 11) % 101) as f32 / 25.0 - 2.0)).collect()
}

/// Row-wise softmax of `x` in f64.
pub fn reference(x: &[bf16], cols: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(cols) {
        let max = row.iter().map(|v| v.to_f64()).fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = row.iter().map(|v| (v.to_f64() - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        out.extend(exp.iter().map(|e| e / sum));
    }
    out
}

/// The arguments of one launch over a dense `rows x cols` matrix.
pub fn args<'a>(x: impl IntoArg + 'a, y: impl IntoArg + 'a, rows: usize, cols: usize) -> LaunchArgs<'a> {
    let (rows, cols) = (rows as i32, cols as i32);
    LaunchArgs::new()
        .arg("x", x)
        .arg("y", y)
        .arg("x_row_stride", cols)
        .arg("y_row_stride", cols)
        .arg("rows", rows)
        .arg("cols", cols)
}

/// Launch `kernel` on fresh buffers and compare with the reference; the
/// result is the largest absolute error, or why the run failed or is wrong.
pub fn run_and_check(rt: &Runtime, kernel: &KernelHandle) -> Result<f64, String> {
    let x_host = input(ROWS, COLS);
    let x = rt.upload(&x_host).map_err(|e| e.to_string())?;
    let y: DeviceBuffer<bf16> = rt.alloc_zeros(ROWS * COLS).map_err(|e| e.to_string())?;
    kernel.launch(rt, &args(&x, &y, ROWS, COLS)).map_err(|e| e.to_string())?;
    let got = rt.download(&y).map_err(|e| e.to_string())?;
    let want = reference(&x_host, COLS);
    let mut max_err = 0.0f64;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let err = (g.to_f64() - w).abs();
        // bf16 keeps 8 significant bits: 2^-8 relative, plus a little for the sum.
        if err.is_nan() || err > 1e-2 * w.abs() + 1e-4 {
            return Err(format!("wrong result at row {}, column {}: got {g}, expected {w:.6}", i / COLS, i % COLS));
        }
        max_err = max_err.max(err);
    }
    Ok(max_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_rows_sum_to_one_and_follow_the_input_order() {
        let x = input(3, 7);
        let y = reference(&x, 7);
        for (xr, yr) in x.chunks(7).zip(y.chunks(7)) {
            assert!((yr.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let argmax = |v: &[f64]| v.iter().enumerate().fold(0, |m, (i, a)| if *a > v[m] { i } else { m });
            let xf: Vec<f64> = xr.iter().map(|v| v.to_f64()).collect();
            assert_eq!(argmax(yr), argmax(&xf));
        }
        assert_ne!(x[..7], x[7..14], "rows differ");
    }
}
