//! What each kernel of `kernels-dsl/` computes, in f64 with plain loops.
//!
//! Every array is dense and row-major; the shapes are given as arguments.
//! These are written from the mathematical definition, not from the
//! kernels' blocked algorithms, so that they check the algorithm too.

/// `y = x + z`.
pub fn vector_add(x: &[f64], z: &[f64]) -> Vec<f64> {
    x.iter().zip(z).map(|(a, b)| a + b).collect()
}

/// The inclusive running sum of `x`.
pub fn prefix_sum(x: &[f64]) -> Vec<f64> {
    x.iter()
        .scan(0.0, |sum, v| {
            *sum += v;
            Some(*sum)
        })
        .collect()
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

/// Lightning attention (issue 5's definition), in f64, by the recurrence:
/// `H(t) = lambda H(t-1) + c k(t)^T v(t)` from `H(-1) = S0`, `o(t) = q(t) H(t)`,
/// and for the backward `R(j) = lambda R(j+1) + q(j)^T do(j)`:
/// `dq(t) = do(t) H(t)^T`, `dk(j) = c v(j) R(j)^T`, `dv(j) = c k(j) R(j)`,
/// `dS0 = lambda R(0)`. Tensors are dense `[batch, heads, n, width]`, states
/// `[batch, heads, d, e]`; lambda = exp(-s[h]).
#[derive(Clone, Debug, Default)]
pub struct LightningAttention {
    pub o: Vec<f64>,
    pub final_state: Vec<f64>,
    pub dq: Vec<f64>,
    pub dk: Vec<f64>,
    pub dv: Vec<f64>,
    pub d_initial_state: Vec<f64>,
}

/// Forward and (when `d_o` is given) backward of lightning attention.
#[allow(clippy::too_many_arguments)]
pub fn lightning_attention(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    s: &[f64],
    scale: f64,
    initial_state: Option<&[f64]>,
    d_o: Option<&[f64]>,
    shape: AttentionShape,
) -> LightningAttention {
    let AttentionShape { batch, heads, n, d, e } = shape;
    let mut out = LightningAttention {
        o: vec![0.0; batch * heads * n * e],
        final_state: vec![0.0; batch * heads * d * e],
        ..Default::default()
    };
    if d_o.is_some() {
        out.dq = vec![0.0; batch * heads * n * d];
        out.dk = vec![0.0; batch * heads * n * d];
        out.dv = vec![0.0; batch * heads * n * e];
        out.d_initial_state = vec![0.0; batch * heads * d * e];
    }
    for bh in 0..batch * heads {
        let lambda = (-s[bh % heads]).exp();
        let (q, k, v) = (&q[bh * n * d..][..n * d], &k[bh * n * d..][..n * d], &v[bh * n * e..][..n * e]);
        let mut h = match initial_state {
            Some(s0) => s0[bh * d * e..][..d * e].to_vec(),
            None => vec![0.0; d * e],
        };
        for t in 0..n {
            for x in 0..d {
                for y in 0..e {
                    h[x * e + y] = lambda * h[x * e + y] + scale * k[t * d + x] * v[t * e + y];
                }
            }
            for y in 0..e {
                out.o[(bh * n + t) * e + y] = (0..d).map(|x| q[t * d + x] * h[x * e + y]).sum();
            }
            if let Some(d_o) = d_o {
                let d_o = &d_o[(bh * n + t) * e..][..e];
                for x in 0..d {
                    out.dq[(bh * n + t) * d + x] = (0..e).map(|y| d_o[y] * h[x * e + y]).sum();
                }
            }
        }
        out.final_state[bh * d * e..][..d * e].copy_from_slice(&h);
        let Some(d_o) = d_o else { continue };
        let d_o = &d_o[bh * n * e..][..n * e];
        let mut r = vec![0.0; d * e];
        for j in (0..n).rev() {
            for x in 0..d {
                for y in 0..e {
                    r[x * e + y] = lambda * r[x * e + y] + q[j * d + x] * d_o[j * e + y];
                }
            }
            for x in 0..d {
                out.dk[(bh * n + j) * d + x] = scale * (0..e).map(|y| v[j * e + y] * r[x * e + y]).sum::<f64>();
            }
            for y in 0..e {
                out.dv[(bh * n + j) * e + y] = scale * (0..d).map(|x| k[j * d + x] * r[x * e + y]).sum::<f64>();
            }
        }
        for (g, r) in out.d_initial_state[bh * d * e..][..d * e].iter_mut().zip(&r) {
            *g = lambda * r;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{Trial, normal, uniform};

    #[test]
    fn lightning_attention_recurrence_matches_the_definition() {
        let shape = AttentionShape { batch: 1, heads: 2, n: 9, d: 3, e: 2 };
        let mut rng = Trial::new(0, 7).rng;
        let q = normal(&mut rng, 54, 0.0, 1.0);
        let k = normal(&mut rng, 54, 0.0, 1.0);
        let v = normal(&mut rng, 36, 0.0, 1.0);
        let s = [0.0, 0.3];
        let got = lightning_attention(&q, &k, &v, &s, 1.0, None, None, shape).o;
        let want = linear_attention(&q, &k, &v, &s, shape);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
        // The gradients are those of sum(o * do), by finite differences.
        let d_o = normal(&mut rng, 36, 0.0, 1.0);
        let s0 = normal(&mut rng, 12, 0.0, 1.0);
        let loss = |q: &[f64], k: &[f64], v: &[f64], s0: &[f64]| -> f64 {
            let o = lightning_attention(q, k, v, &s, 0.7, Some(s0), None, shape).o;
            o.iter().zip(&d_o).map(|(a, b)| a * b).sum()
        };
        let g = lightning_attention(&q, &k, &v, &s, 0.7, Some(&s0), Some(&d_o), shape);
        let h = 1e-6;
        let fd = |which: usize, i: usize| {
            let mut x = [q.clone(), k.clone(), v.clone(), s0.clone()];
            x[which][i] += h;
            let up = loss(&x[0], &x[1], &x[2], &x[3]);
            x[which][i] -= 2.0 * h;
            (up - loss(&x[0], &x[1], &x[2], &x[3])) / (2.0 * h)
        };
        for i in [0, 7, 30, 53] {
            assert!((fd(0, i) - g.dq[i]).abs() < 1e-5, "dq[{i}]");
            assert!((fd(1, i) - g.dk[i]).abs() < 1e-5, "dk[{i}]");
        }
        for i in [0, 11, 35] {
            assert!((fd(2, i) - g.dv[i]).abs() < 1e-5, "dv[{i}]");
        }
        for i in [0, 5, 11] {
            assert!((fd(3, i) - g.d_initial_state[i]).abs() < 1e-5, "dS0[{i}]");
        }
    }

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
