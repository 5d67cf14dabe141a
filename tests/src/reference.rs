//! What each kernel of `kernels-dsl/` computes, in f64 with plain loops.
//!
//! Every array is dense and row-major; the shapes are given as arguments.
//! These are written from the mathematical definition, not from the
//! kernels' blocked algorithms, so that they check the algorithm too.

/// `y = x + z`.
pub fn vector_add(x: &[f64], z: &[f64]) -> Vec<f64> {
    x.iter().zip(z).map(|(a, b)| a + b).collect()
}

/// Softmax of each row of `x: [rows, cols]`.
pub fn softmax(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * cols];
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let denom: f64 = row.iter().map(|v| (v - max).exp()).sum();
        for c in 0..cols {
            y[r * cols + c] = (row[c] - max).exp() / denom;
        }
    }
    y
}

/// The outputs of [`layer_norm`].
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    /// `[rows, cols]`
    pub y: Vec<f64>,
    /// `[rows]`
    pub mean: Vec<f64>,
    /// `[rows]`: `1 / sqrt(variance + eps)`, the biased variance.
    pub rstd: Vec<f64>,
}

/// Layer normalization of each row of `x: [rows, cols]`, scaled by `w` and
/// shifted by `b` (both `[cols]`).
pub fn layer_norm(x: &[f64], w: &[f64], b: &[f64], rows: usize, cols: usize, eps: f64) -> LayerNorm {
    let mut out = LayerNorm { y: vec![0.0; rows * cols], mean: vec![0.0; rows], rstd: vec![0.0; rows] };
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mean = row.iter().sum::<f64>() / cols as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / cols as f64;
        let rstd = 1.0 / (var + eps).sqrt();
        for c in 0..cols {
            out.y[r * cols + c] = (row[c] - mean) * rstd * w[c] + b[c];
        }
        out.mean[r] = mean;
        out.rstd[r] = rstd;
    }
    out
}

/// `a: [m, k] @ b: [k, n]`.
pub fn matmul(a: &[f64], b: &[f64], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

/// The shape of a linear-attention problem: q and k are
/// `[batch, heads, n, d]`, v and the output `[batch, heads, n, e]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub batch: usize,
    pub heads: usize,
    pub n: usize,
    pub d: usize,
    pub e: usize,
}

impl AttentionShape {
    pub fn qk_shape(&self) -> [usize; 4] {
        [self.batch, self.heads, self.n, self.d]
    }
    pub fn vo_shape(&self) -> [usize; 4] {
        [self.batch, self.heads, self.n, self.e]
    }
}

/// Causal linear attention with decay `s[h]` per head, straight from the
/// definition (quadratic in n):
/// `o[b, h, t] = sum_{j <= t} exp(-s[h] (t - j)) (q[b, h, t] . k[b, h, j]) v[b, h, j]`.
pub fn linear_attention(q: &[f64], k: &[f64], v: &[f64], s: &[f64], shape: AttentionShape) -> Vec<f64> {
    let AttentionShape { batch, heads, n, d, e } = shape;
    let mut o = vec![0.0; batch * heads * n * e];
    for bh in 0..batch * heads {
        let decay = s[bh % heads];
        let (q, k, v) = (&q[bh * n * d..], &k[bh * n * d..], &v[bh * n * e..]);
        let o = &mut o[bh * n * e..(bh + 1) * n * e];
        for t in 0..n {
            for j in 0..=t {
                let score: f64 = (0..d).map(|x| q[t * d + x] * k[j * d + x]).sum();
                let weight = (-decay * (t - j) as f64).exp() * score;
                for x in 0..e {
                    o[t * e + x] += weight * v[j * e + x];
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{Trial, normal, uniform};

    #[test]
    fn vector_add_adds() {
        assert_eq!(vector_add(&[1.0, 2.0], &[0.5, -2.0]), vec![1.5, 0.0]);
    }

    #[test]
    fn softmax_rows_are_distributions() {
        let x = uniform(&mut Trial::new(0, 1).rng, 3 * 7, -50.0, 50.0);
        let y = softmax(&x, 3, 7);
        for r in 0..3 {
            let row = &y[r * 7..(r + 1) * 7];
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|&p| p >= 0.0));
        }
        // Equal inputs share the mass equally; shifting a row changes nothing.
        assert_eq!(softmax(&[5.0, 5.0], 1, 2), vec![0.5, 0.5]);
        let shifted: Vec<f64> = x.iter().map(|v| v + 100.0).collect();
        let z = softmax(&shifted, 3, 7);
        assert!(y.iter().zip(&z).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn layer_norm_standardizes_rows() {
        let (rows, cols) = (2, 50);
        let x = normal(&mut Trial::new(0, 2).rng, rows * cols, 4.0, 3.0);
        let out = layer_norm(&x, &vec![1.0; cols], &vec![0.0; cols], rows, cols, 0.0);
        for r in 0..rows {
            let y = &out.y[r * cols..(r + 1) * cols];
            let mean = y.iter().sum::<f64>() / cols as f64;
            let var = y.iter().map(|v| v * v).sum::<f64>() / cols as f64;
            assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
            let row_mean = x[r * cols..(r + 1) * cols].iter().sum::<f64>() / cols as f64;
            assert!((out.mean[r] - row_mean).abs() < 1e-12);
        }
        // Weight and bias apply per column after normalizing.
        let out = layer_norm(&[1.0, 3.0], &[2.0, 3.0], &[10.0, 20.0], 1, 2, 0.0);
        assert_eq!(out.y, vec![8.0, 23.0]);
        assert_eq!((out.mean[0], out.rstd[0]), (2.0, 1.0));
    }

    #[test]
    fn matmul_multiplies() {
        // [[1, 2, 3]] @ [[1, 0], [0, 1], [1, 1]] = [[4, 5]].
        assert_eq!(matmul(&[1.0, 2.0, 3.0], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 1, 2, 3), vec![4.0, 5.0]);
    }

    /// The same attention by the recurrence S_t = exp(-s) S_{t-1} + k_t^T v_t,
    /// o_t = q_t S_t: an independent derivation of the definition.
    #[test]
    fn linear_attention_matches_its_recurrent_form() {
        let shape = AttentionShape { batch: 2, heads: 2, n: 9, d: 3, e: 4 };
        let rng = &mut Trial::new(0, 3).rng;
        let q = normal(rng, 2 * 2 * 9 * 3, 0.0, 1.0);
        let k = normal(rng, 2 * 2 * 9 * 3, 0.0, 1.0);
        let v = normal(rng, 2 * 2 * 9 * 4, 0.0, 1.0);
        let s = [0.0, 0.7];
        let o = linear_attention(&q, &k, &v, &s, shape);
        for bh in 0..4 {
            let mut state = [0.0; 3 * 4];
            for t in 0..9 {
                for x in 0..3 {
                    for y in 0..4 {
                        state[x * 4 + y] =
                            (-s[bh % 2]).exp() * state[x * 4 + y] + k[(bh * 9 + t) * 3 + x] * v[(bh * 9 + t) * 4 + y];
                    }
                }
                for y in 0..4 {
                    let want: f64 = (0..3).map(|x| q[(bh * 9 + t) * 3 + x] * state[x * 4 + y]).sum();
                    assert!((o[(bh * 9 + t) * 4 + y] - want).abs() < 1e-12);
                }
            }
        }
    }
}
