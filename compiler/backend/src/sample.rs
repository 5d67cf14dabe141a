//! Small hand-built kernels that exercise the whole MLIR -> PTX path.
//!
//! They are the backend's smoke tests and the templates the TIR lowering
//! follows: each builds an `llvm.func` kernel with [`Emitter`] the way the real
//! lowering will (generic operations in `arith`, `scf`, `nvvm`, `llvm`).

use melior::ir::{Block, BlockLike, Location, Module, Value};

use crate::{
    context::MlirContext,
    emit::{CmpI, Emitter},
    error::{Result, Stage},
};

/// The entry-block argument `index` of a kernel.
fn parameter<'c, 'a>(mlir: &MlirContext, block: &'a Block<'c>, index: usize) -> Result<Value<'c, 'a>> {
    block
        .argument(index)
        .map(Into::into)
        .map_err(|error| mlir.error(Stage::MlirBuild, format!("kernel parameter {index}: {error}")))
}

/// `add_one(x, y, n)`: `y[i] = x[i] + 1.0` for `i = ctaid.x * ntid.x + tid.x < n`.
pub fn add_one(mlir: &MlirContext) -> Result<Module<'_>> {
    let context = mlir.mlir();
    let emitter = Emitter::new(mlir, Location::name(context, "add_one", Location::unknown(context)));
    let module = Module::new(emitter.location());
    let global_ptr = emitter.parse_type("!llvm.ptr<1>")?;
    let (i32_type, f32_type) = (emitter.i32_type(), emitter.f32_type());
    emitter.kernel(&module.body(), "add_one", &[global_ptr, global_ptr, i32_type], &[], |block| {
        let (x, y, n) = (parameter(mlir, block, 0)?, parameter(mlir, block, 1)?, parameter(mlir, block, 2)?);
        let tid = emitter.sreg(block, "tid.x")?;
        let ctaid = emitter.sreg(block, "ctaid.x")?;
        let ntid = emitter.sreg(block, "ntid.x")?;
        let base = emitter.binary(block, "arith.muli", ctaid, ntid)?;
        let i = emitter.binary(block, "arith.addi", base, tid)?;
        let inside = emitter.cmpi(block, CmpI::Slt, i, n)?;
        emitter.if_then(block, inside, |then| {
            let source = emitter.gep(then, x, i, f32_type)?;
            let value = emitter.load(then, source, f32_type)?;
            let one = emitter.const_f32(then, 1.0)?;
            let sum = emitter.binary(then, "arith.addf", value, one)?;
            let target = emitter.gep(then, y, i, f32_type)?;
            emitter.store(then, sum, target)
        })
    })?;
    Ok(module)
}

/// Loads `count` consecutive `element`s of `base` starting at `lane * count`.
fn load_fragment<'c, 'a>(
    emitter: &Emitter<'c>,
    block: &'a Block<'c>,
    base: Value<'c, '_>,
    lane: Value<'c, '_>,
    count: i32,
    element: melior::ir::Type<'c>,
) -> Result<Vec<Value<'c, 'a>>> {
    let stride = emitter.const_i32(block, count)?;
    let first = emitter.binary(block, "arith.muli", lane, stride)?;
    (0..count)
        .map(|k| {
            let offset = emitter.const_i32(block, k)?;
            let index = emitter.binary(block, "arith.addi", first, offset)?;
            let address = emitter.gep(block, base, index, element)?;
            emitter.load(block, address, element)
        })
        .collect()
}

/// Stores the `count` f32 fields of `result` to `base[lane * count + k]`.
fn store_accumulators(
    emitter: &Emitter<'_>,
    block: &Block<'_>,
    result: Value<'_, '_>,
    base: Value<'_, '_>,
    lane: Value<'_, '_>,
    count: i32,
) -> Result<()> {
    let f32_type = emitter.f32_type();
    let stride = emitter.const_i32(block, count)?;
    let first = emitter.binary(block, "arith.muli", lane, stride)?;
    for k in 0..count {
        let value = emitter.extract_value(block, result, i64::from(k), f32_type)?;
        let offset = emitter.const_i32(block, k)?;
        let index = emitter.binary(block, "arith.addi", first, offset)?;
        let address = emitter.gep(block, base, index, f32_type)?;
        emitter.store(block, value, address)?;
    }
    Ok(())
}

/// `mma_bf16_m16n8k16(a, b, c, d)`: one warp computes a 16x8 f32 tile
/// `D = A(16x16 bf16, row) * B(16x8 bf16, col) + C` with `mma.sync`. Each lane
/// holds its register fragments (A: 4 x i32 = 8 bf16, B: 2 x i32, C/D: 4 x f32),
/// loaded from and stored to `base[lane * n + k]`.
pub fn mma_bf16_m16n8k16(mlir: &MlirContext) -> Result<Module<'_>> {
    let context = mlir.mlir();
    let emitter = Emitter::new(mlir, Location::name(context, "mma_bf16_m16n8k16", Location::unknown(context)));
    let module = Module::new(emitter.location());
    let global_ptr = emitter.parse_type("!llvm.ptr<1>")?;
    let accumulator = emitter.parse_type("!llvm.struct<(f32, f32, f32, f32)>")?;
    let attributes = [
        emitter.named("shape", emitter.parse_attribute("#nvvm.shape<m = 16, n = 8, k = 16>")?),
        emitter.named("layoutA", emitter.parse_attribute("#nvvm.mma_layout<row>")?),
        emitter.named("layoutB", emitter.parse_attribute("#nvvm.mma_layout<col>")?),
        emitter.named("multiplicandAPtxType", emitter.parse_attribute("#nvvm.mma_type<bf16>")?),
        emitter.named("multiplicandBPtxType", emitter.parse_attribute("#nvvm.mma_type<bf16>")?),
        emitter.named("operandSegmentSizes", emitter.parse_attribute("array<i32: 4, 2, 4>")?),
    ];
    let pointers = [global_ptr; 4];
    emitter.kernel(&module.body(), "mma_bf16_m16n8k16", &pointers, &[], |block| {
        let (a, b) = (parameter(mlir, block, 0)?, parameter(mlir, block, 1)?);
        let (c, d) = (parameter(mlir, block, 2)?, parameter(mlir, block, 3)?);
        let lane = emitter.sreg(block, "laneid")?;
        let fragment_a = load_fragment(&emitter, block, a, lane, 4, emitter.i32_type())?;
        let fragment_b = load_fragment(&emitter, block, b, lane, 2, emitter.i32_type())?;
        let fragment_c = load_fragment(&emitter, block, c, lane, 4, emitter.f32_type())?;
        let mma = emitter
            .op("nvvm.mma.sync")
            .add_attributes(&attributes)
            .add_operands(&fragment_a)
            .add_operands(&fragment_b)
            .add_operands(&fragment_c)
            .add_results(&[accumulator]);
        let result = emitter.value(block, mma, "nvvm.mma.sync")?;
        store_accumulators(&emitter, block, result, d, lane, 4)
    })?;
    Ok(module)
}

/// `wgmma_bf16_m64n8k16(desc_a, desc_b, d)`: one warpgroup (128 threads)
/// computes a 64x8 f32 tile from bf16 operands in shared memory, described by
/// the two wgmma matrix descriptors, with `wgmma.mma_async` (sm_90a only).
/// The accumulator starts at zero; each thread stores its 4 f32 to `d[tid * 4 + k]`.
pub fn wgmma_bf16_m64n8k16(mlir: &MlirContext) -> Result<Module<'_>> {
    let context = mlir.mlir();
    let emitter = Emitter::new(mlir, Location::name(context, "wgmma_bf16_m64n8k16", Location::unknown(context)));
    let module = Module::new(emitter.location());
    let global_ptr = emitter.parse_type("!llvm.ptr<1>")?;
    let i64_type = emitter.parse_type("i64")?;
    let accumulator = emitter.parse_type("!llvm.struct<(f32, f32, f32, f32)>")?;
    let attributes = [
        emitter.named("shape", emitter.parse_attribute("#nvvm.shape<m = 64, n = 8, k = 16>")?),
        emitter.named("typeA", emitter.parse_attribute("#nvvm.wgmma_type<bf16>")?),
        emitter.named("typeB", emitter.parse_attribute("#nvvm.wgmma_type<bf16>")?),
        emitter.named("typeD", emitter.parse_attribute("#nvvm.wgmma_type<f32>")?),
        emitter.named("scaleD", emitter.parse_attribute("#nvvm.wgmma_scale_out<one>")?),
        emitter.named("scaleA", emitter.parse_attribute("#nvvm.wgmma_scale_in<one>")?),
        emitter.named("scaleB", emitter.parse_attribute("#nvvm.wgmma_scale_in<one>")?),
        emitter.named("layoutA", emitter.parse_attribute("#nvvm.mma_layout<row>")?),
        emitter.named("layoutB", emitter.parse_attribute("#nvvm.mma_layout<col>")?),
    ];
    let warpgroup = [emitter.named("nvvm.reqntid", emitter.parse_attribute("array<i32: 128, 1, 1>")?)];
    emitter.kernel(&module.body(), "wgmma_bf16_m64n8k16", &[i64_type, i64_type, global_ptr], &warpgroup, |block| {
        let (desc_a, desc_b, d) = (parameter(mlir, block, 0)?, parameter(mlir, block, 1)?, parameter(mlir, block, 2)?);
        let tid = emitter.sreg(block, "tid.x")?;
        let zero = emitter.value(block, emitter.op("llvm.mlir.zero").add_results(&[accumulator]), "llvm.mlir.zero")?;
        emitter.append(block, emitter.op("nvvm.wgmma.fence.aligned"), "nvvm.wgmma.fence.aligned")?;
        let mma = emitter
            .op("nvvm.wgmma.mma_async")
            .add_attributes(&attributes)
            .add_operands(&[zero, desc_a, desc_b])
            .add_results(&[accumulator]);
        let result = emitter.value(block, mma, "nvvm.wgmma.mma_async")?;
        emitter.append(
            block,
            emitter.op("nvvm.wgmma.commit.group.sync.aligned"),
            "nvvm.wgmma.commit.group.sync.aligned",
        )?;
        let wait = emitter
            .op("nvvm.wgmma.wait.group.sync.aligned")
            .add_attributes(&[emitter.named("group", emitter.parse_attribute("0 : i64")?)]);
        emitter.append(block, wait, "nvvm.wgmma.wait.group.sync.aligned")?;
        store_accumulators(&emitter, block, result, d, tid, 4)
    })?;
    Ok(module)
}
