//! Shared test fixtures: a vector-add kernel written by hand in PTX, its
//! signature, and bundles built from it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use tessera_runtime::BundleWriter;
use tessera_runtime::bundle::{
    CodeObjects, ConstParam, ConstValue, DType, GridExpr, Hints, KernelDecl, Param, ParamKind, TuneAxis, VariantInfo,
};

/// `y[i] = x[i] OP z[i]` for `i < n`, `block` elements per program, each of
/// `threads` threads striding through the block. `op` is a PTX f32 opcode
/// (`add`, or `sub` for a deliberately wrong variant).
pub fn vector_add_ptx(block: u32, threads: u32, op: &str) -> String {
    format!(
        r#"//
// Hand-written test kernel: vector add, BLOCK = {block}, {threads} threads.
//
.version 7.0
.target sm_80
.address_size 64

.visible .entry vector_add(
    .param .u64 x,
    .param .u64 z,
    .param .u64 y,
    .param .u32 n
)
{{
    .reg .pred %p<3>;
    .reg .b32 %r<8>;
    .reg .f32 %f<4>;
    .reg .b64 %rd<12>;

    ld.param.u64 %rd1, [x];
    ld.param.u64 %rd2, [z];
    ld.param.u64 %rd3, [y];
    ld.param.u32 %r1, [n];
    cvta.to.global.u64 %rd4, %rd1;
    cvta.to.global.u64 %rd5, %rd2;
    cvta.to.global.u64 %rd6, %rd3;
    mov.u32 %r2, %ctaid.x;
    mul.lo.s32 %r3, %r2, {block};
    mov.u32 %r4, %tid.x;
LOOP:
    setp.ge.s32 %p1, %r4, {block};
    @%p1 bra DONE;
    add.s32 %r5, %r3, %r4;
    setp.ge.s32 %p2, %r5, %r1;
    @%p2 bra DONE;
    mul.wide.s32 %rd7, %r5, 4;
    add.s64 %rd8, %rd4, %rd7;
    add.s64 %rd9, %rd5, %rd7;
    add.s64 %rd10, %rd6, %rd7;
    ld.global.f32 %f1, [%rd8];
    ld.global.f32 %f2, [%rd9];
    {op}.f32 %f3, %f1, %f2;
    st.global.f32 [%rd10], %f3;
    add.s32 %r4, %r4, {threads};
    bra LOOP;
DONE:
    ret;
}}
"#
    )
}

fn b(e: GridExpr) -> Box<GridExpr> {
    Box::new(e)
}

/// `kernel vector_add(x: *f32 @div(16), z: *f32 @div(16), y: *f32 @div(16),
/// n: i32, const BLOCK: i32) grid(cdiv(n, BLOCK)) tune(BLOCK = [256, 1024],
/// warps = [4, 8]) key(n)`
pub fn vector_add_decl() -> KernelDecl {
    let ptr = |name: &str| Param {
        name: name.into(),
        kind: ParamKind::Pointer { elem: DType::F32 },
        hints: Hints { divisibility: Some(16), contiguous: false },
    };
    KernelDecl {
        name: "vector_add".into(),
        params: vec![
            ptr("x"),
            ptr("z"),
            ptr("y"),
            Param { name: "n".into(), kind: ParamKind::Scalar { dtype: DType::I32 }, hints: Hints::default() },
        ],
        const_params: vec![ConstParam { name: "BLOCK".into(), dtype: DType::I32 }],
        grid: vec![GridExpr::Cdiv(b(GridExpr::Param("n".into())), b(GridExpr::Param("BLOCK".into())))],
        tune_space: vec![
            TuneAxis { name: "BLOCK".into(), values: vec![ConstValue::Int(256), ConstValue::Int(1024)] },
            TuneAxis { name: "warps".into(), values: vec![ConstValue::Int(4), ConstValue::Int(8)] },
        ],
        key: vec!["n".into()],
        require: vec![],
    }
}

pub fn info(block: i64, warps: u32, arch: &str) -> VariantInfo {
    VariantInfo {
        consts: BTreeMap::from([("BLOCK".to_string(), ConstValue::Int(block))]),
        registers: 16,
        ..VariantInfo::new("vector_add", arch, warps)
    }
}

/// A second, scalar-only kernel, so bundles hold more than one kernel.
pub fn fill_decl() -> KernelDecl {
    KernelDecl {
        name: "fill".into(),
        params: vec![
            Param { name: "out".into(), kind: ParamKind::Pointer { elem: DType::F16 }, hints: Hints::default() },
            Param { name: "value".into(), kind: ParamKind::Scalar { dtype: DType::F16 }, hints: Hints::default() },
            Param {
                name: "stride".into(),
                kind: ParamKind::Scalar { dtype: DType::I64 },
                hints: Hints { divisibility: None, contiguous: true },
            },
        ],
        const_params: vec![],
        grid: vec![GridExpr::Int(1), GridExpr::Int(2)],
        tune_space: vec![],
        key: vec![],
        require: vec![],
    }
}

/// The tuning space of `vector_add` as PTX for sm_80 (runs everywhere from
/// Ampere on, JIT-compiled by the driver).
pub fn ptx_writer() -> BundleWriter {
    let mut w = BundleWriter::new("tessera 0.1.0 (test)", "0".repeat(64));
    w.add_kernel(vector_add_decl()).unwrap();
    for block in [256, 1024] {
        for warps in [4, 8] {
            let code = CodeObjects { ptx: Some(vector_add_ptx(block as u32, warps * 32, "add")), cubin: None };
            w.add_variant("vector_add", info(block, warps, "sm_80"), code).unwrap();
        }
    }
    w
}

/// A bundle with two kernels, PTX and (fake) cubins for two archs: for
/// format tests only (the cubins are not machine code).
pub fn format_writer() -> BundleWriter {
    let mut w = ptx_writer();
    for block in [256, 1024] {
        let code = CodeObjects { ptx: None, cubin: Some(format!("\x7fELF fake cubin {block}").into_bytes()) };
        w.add_variant("vector_add", info(block, 4, "sm_90a"), code).unwrap();
    }
    w.add_kernel(fill_decl()).unwrap();
    let fill = VariantInfo { consts: BTreeMap::new(), entry: "fill".into(), ..info(0, 1, "sm_80") };
    w.add_variant("fill", fill, CodeObjects { ptx: Some(".version 7.0\n// fill\n".into()), cubin: None }).unwrap();
    w
}
