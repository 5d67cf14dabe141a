//! Float64 references for the checker: the kernels of `kernels-dsl/` that
//! [`crate::reference`] knows, fed from a case's arguments.
//!
//! Each strided tensor is read through a [`Layout`] built from the case's
//! stride arguments, so a case may use padded or permuted layouts; the
//! result says which view of which output buffer it predicts.

use crate::gpu::inputs::HostArgs;
use crate::layout::Layout;
use crate::reference::{self, AttentionShape};
use tessera_tir::ConstValue;

/// What one output buffer should hold inside a view.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub output: String,
    pub layout: Layout,
    pub values: Vec<f64>,
}

/// Kernels with a reference.
pub const KNOWN: &[&str] = &[
    "vector_add",
    "vector_add_bf16",
    "softmax",
    "softmax_bf16",
    "softmax_looped",
    "softmax_looped_bf16",
    "layer_norm_fwd",
    "layer_norm_fwd_bf16",
    "matmul",
    "matmul_block_ptr",
    "matmul_aligned",
    "linear_attention_fwd",
    "linear_attention_fwd_bf16",
    "prefix_sum",
];

/// The expected outputs of `kernel` for `args`; None when there is no
/// reference for that kernel; an error when the arguments do not describe
/// a problem the reference can compute (a missing argument, a view larger
/// than its buffer).
pub fn expected(
    kernel: &str,
    consts: &[(String, ConstValue)],
    args: &HostArgs,
) -> Option<Result<Vec<Expected>, String>> {
    let family = match kernel {
        "vector_add" | "vector_add_bf16" => vector_add,
        "softmax" | "softmax_bf16" | "softmax_looped" | "softmax_looped_bf16" => softmax,
        "layer_norm_fwd" | "layer_norm_fwd_bf16" => layer_norm,
        "matmul" | "matmul_block_ptr" | "matmul_aligned" => matmul,
        "linear_attention_fwd" | "linear_attention_fwd_bf16" => linear_attention,
        "prefix_sum" => prefix_sum,
        _ => return None,
    };
    Some(family(&Reader { args, consts }))
}

struct Reader<'a> {
    args: &'a HostArgs,
    consts: &'a [(String, ConstValue)],
}

impl Reader<'_> {
    /// A non-negative integer scalar argument or compile-time value.
    fn size(&self, name: &str) -> Result<usize, String> {
        let value = self.args.scalar(name).or_else(|| {
            self.consts.iter().find(|(n, _)| n == name).and_then(|(_, v)| match v {
                ConstValue::Int(i) => Some(*i as f64),
                _ => None,
            })
        });
        match value {
            Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(v as usize),
            Some(v) => Err(format!("`{name}` = {v} is not a size")),
            None => Err(format!("no integer argument `{name}`")),
        }
    }

    fn float(&self, name: &str) -> Result<f64, String> {
        self.args.scalar(name).ok_or_else(|| format!("no scalar argument `{name}`"))
    }

    fn layout(&self, shape: &[usize], stride_names: &[&str]) -> Result<Layout, String> {
        let mut strides = stride_names.iter().map(|n| self.size(n)).collect::<Result<Vec<_>, _>>()?;
        // The innermost axis is contiguous in every kernel of the library.
        strides.push(1);
        Ok(Layout { shape: shape.to_vec(), strides })
    }

    /// The dense view `layout` of buffer `name`.
    fn view(&self, name: &str, layout: &Layout) -> Result<Vec<f64>, String> {
        let buffer = self.args.buffer(name).ok_or_else(|| format!("no buffer argument `{name}`"))?;
        fits(name, layout, buffer.len())?;
        Ok(layout.gather(&buffer))
    }

    /// An expected output, after checking its buffer holds the view.
    fn expect(&self, output: &str, layout: Layout, values: Vec<f64>) -> Result<Expected, String> {
        let len = self.args.buffer(output).map(|b| b.len()).ok_or_else(|| format!("no buffer argument `{output}`"))?;
        fits(output, &layout, len)?;
        Ok(Expected { output: output.to_string(), layout, values })
    }
}

fn fits(name: &str, layout: &Layout, len: usize) -> Result<(), String> {
    if layout.buffer_len() > len {
        return Err(format!(
            "`{name}` holds {len} elements, its view {:?} with strides {:?} needs {}",
            layout.shape,
            layout.strides,
            layout.buffer_len()
        ));
    }
    Ok(())
}

fn vector_add(r: &Reader<'_>) -> Result<Vec<Expected>, String> {
    let n = r.size("n")?;
    let layout = Layout::contiguous(&[n]);
    let (x, z) = (r.view("x", &layout)?, r.view("z", &layout)?);
    Ok(vec![r.expect("y", layout, reference::vector_add(&x, &z))?])
}

/// y, the running sum of x (the scratch buffers are the kernel's own business).
fn prefix_sum(r: &Reader<'_>) -> Result<Vec<Expected>, String> {
    let n = r.size("n")?;
    let layout = Layout::contiguous(&[n]);
    let x = r.view("x", &layout)?;
    Ok(vec![r.expect("y", layout, reference::prefix_sum(&x))?])
}

fn softmax(r: &Reader<'_>) -> Result<Vec<Expected>, String> {
    let (rows, cols) = (r.size("rows")?, r.size("cols")?);
    let x = r.view("x", &r.layout(&[rows, cols], &["x_row_stride"])?)?;
    let y_layout = r.layout(&[rows, cols], &["y_row_stride"])?;
    Ok(vec![r.expect("y", y_layout, reference::softmax(&x, rows, cols))?])
}

fn layer_norm(r: &Reader<'_>) -> Result<Vec<Expected>, String> {
    let (rows, cols) = (r.size("rows")?, r.size("cols")?);
    let x = r.view("x", &r.layout(&[rows, cols], &["x_row_stride"])?)?;
    let w = r.view("w", &Layout::contiguous(&[cols]))?;
    let b = r.view("b", &Layout::contiguous(&[cols]))?;
    // The kernel adds eps in f32.
    let eps = f64::from(r.float("eps")? as f32);
    let want = reference::layer_norm(&x, &w, &b, rows, cols, eps);
    Ok(vec![
        r.expect("y", r.layout(&[rows, cols], &["y_row_stride"])?, want.y)?,
        r.expect("mean", Layout::contiguous(&[rows]), want.mean)?,
        r.expect("rstd", Layout::contiguous(&[rows]), want.rstd)?,
    ])
}

fn matmul(r: &Reader<'_>) -> Result<Vec<Expected>, String> {
    let (m, n, k) = (r.size("M")?, r.size("N")?, r.size("K")?);
    let strided = |shape: &[usize], s0: &str, s1: &str| -> Result<Layout, String> {
        Ok(Layout { shape: shape.to_vec(), strides: vec![r.size(s0)?, r.size(s1)?] })
    };
    let a = r.view("a", &strided(&[m, k], "stride_am", "stride_ak")?)?;
    let b = r.view("b", &strided(&[k, n], "stride_bk", "stride_bn")?)?;
    let c_layout = strided(&[m, n], "stride_cm", "stride_cn")?;
    Ok(vec![r.expect("c", c_layout, reference::matmul(&a, &b, m, n, k))?])
}

fn linear_attention(r: &Reader<'_>) -> Result<Vec<Expected>, String> {
    let shape = AttentionShape {
        batch: r.size("batch")?,
        heads: r.size("heads")?,
        n: r.size("n")?,
        d: r.size("D")?,
        e: r.size("e")?,
    };
    let strides = |t: &str| [format!("stride_{t}b"), format!("stride_{t}h"), format!("stride_{t}n")];
    let layout = |t: &str, shape: [usize; 4]| {
        let names = strides(t);
        r.layout(&shape, &[&names[0], &names[1], &names[2]])
    };
    let q = r.view("q", &layout("q", shape.qk_shape())?)?;
    let k = r.view("k", &layout("k", shape.qk_shape())?)?;
    let v = r.view("v", &layout("v", shape.vo_shape())?)?;
    let s = r.view("s", &Layout::contiguous(&[shape.heads]))?;
    let o_layout = layout("o", shape.vo_shape())?;
    Ok(vec![r.expect("o", o_layout, reference::linear_attention(&q, &k, &v, &s, shape))?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::tolerance;
    use crate::gpu::compare::compare_buffers;
    use crate::gpu::inputs::materialize;
    use crate::harness::{compile, int};

    fn given(text: &str) -> Vec<(String, String)> {
        let cases = crate::gpu::cases::parse_cases(&format!("f.tsr k {text}")).unwrap();
        cases.into_iter().next().map(|c| c.assignments).unwrap_or_default()
    }

    /// The interpreter agrees with every reference on a small case: the
    /// adapters read the right arguments and views.
    #[test]
    fn references_agree_with_the_interpreter() {
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, i64)>, &'a str);
        let cases: [Case<'_>; 6] = [
            ("vector_add.tsr", "vector_add_bf16", vec![], "n=300 x=rand(n) z=rand(n) y=empty(n)"),
            (
                "softmax.tsr",
                "softmax",
                vec![("BLOCK", 1024)],
                "rows=3 cols=50 x_row_stride=57 y_row_stride=52 x=randn(3*57) y=empty(3*52)",
            ),
            (
                "layer_norm.tsr",
                "layer_norm_fwd",
                vec![("BLOCK", 256)],
                "rows=3 cols=300 x_row_stride=cols y_row_stride=cols eps=1e-5 x=randn(rows*cols, 2, 3) \
                 y=empty(rows*cols) w=randn(cols, 1, 0.3) b=randn(cols) mean=empty(rows) rstd=empty(rows)",
            ),
            (
                "matmul.tsr",
                "matmul",
                vec![("BLOCK_M", 64), ("BLOCK_N", 64), ("BLOCK_K", 32)],
                "M=33 N=20 K=40 stride_am=K stride_ak=1 stride_bk=1 stride_bn=K stride_cm=N stride_cn=1 \
                 a=rand(M*K) b=rand(K*N) c=empty(M*N)",
            ),
            (
                "linear_attention.tsr",
                "linear_attention_fwd",
                vec![("D", 16), ("BLOCK", 16), ("BLOCK_E", 16)],
                "batch=1 heads=2 n=20 e=16 stride_qb=640 stride_qh=320 stride_qn=16 stride_kb=640 stride_kh=320 \
                 stride_kn=16 stride_vb=640 stride_vh=320 stride_vn=16 stride_ob=640 stride_oh=320 stride_on=16 \
                 q=randn(640) k=randn(640) v=randn(640) o=empty(640) s=rand(2, 0.01, 0.5)",
            ),
            (
                "prefix_sum.tsr",
                "prefix_sum",
                vec![("BLOCK", 1024)],
                "n=3000 x=rand(n) y=empty(n) totals=empty(3) prefixes=empty(3) status=zeros(3) ticket=zeros(1)",
            ),
        ];
        for (file, name, consts, args) in cases {
            let consts: Vec<(&str, ConstValue)> = consts.into_iter().map(|(n, v)| (n, int(v))).collect();
            let kernel = compile(file, name, &consts);
            let host = materialize(&kernel, &given(args), 11).unwrap();
            let (launch_args, mut buffers) = host.interp_args();
            tessera_interp::launch(&kernel, &launch_args, &mut buffers).unwrap();
            let want = expected(name, &kernel.consts, &host).unwrap().unwrap();
            assert!(!want.is_empty());
            for e in want {
                let index =
                    kernel.params.iter().filter(|p| host.buffer(&p.name).is_some()).position(|p| p.name == e.output);
                let got = e.layout.gather(&buffers[index.unwrap()].to_f64());
                let cmp = compare_buffers(&got, &e.values);
                assert!(cmp.within(tolerance::TF32), "{name} `{}`: {cmp}", e.output);
            }
        }
        assert!(expected("nope", &[], &HostArgs { args: vec![] }).is_none());
    }

    #[test]
    fn views_larger_than_their_buffer_are_errors() {
        let kernel = compile("vector_add.tsr", "vector_add", &[]);
        let host = materialize(&kernel, &given("n=10 x=rand(n) z=rand(n) y=empty(n)"), 1).unwrap();
        let mut short = host.clone();
        if let Some((_, crate::gpu::inputs::HostValue::Scalar { value, .. })) =
            short.args.iter_mut().find(|(n, _)| n == "n")
        {
            *value = 11.0;
        }
        let err = expected("vector_add", &[], &short).unwrap().unwrap_err();
        assert!(err.contains("`x` holds 10 elements"), "{err}");
    }
}
