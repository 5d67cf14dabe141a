//! Block stores inside a `wgmma` pipeline copied out by the bulk copy
//! engine (sm_90a): the tile is written row-major into shared memory, and
//! one thread per row hands the row to `cp.async.bulk.global.shared::cta`.
//!
//! Why: the loop's `wgmma`s read operands that the threads staged in shared
//! memory, each behind a `fence.proxy.async`, which ptxas lowers to
//! `MEMBAR.ALL.CTA` + `FENCE.VIEW.ASYNC`; the `MEMBAR` waits for the
//! thread's outstanding global stores, so a tile stored with `st.global`
//! in one trip stalls the next trip's fences (lightning attention's walk:
//! its output stores cost about 10% of the walk on the H100, sixteenth
//! session). The engine's writes are not the thread's: nothing waits for
//! them but the kernel's end.
//!
//! A `store_block` qualifies inside the body of a pipelined loop whose
//! buffers `wgmma` reads (so on sm_90a), unless `--cp-async-only`, when its
//! view has the unit stride along axis 1, each row of the block is a
//! multiple of 16 bytes, the axis info proves the base 16-byte aligned and
//! the row stride, the column offset and (when checked) the column extent
//! multiples of 16 bytes, and the block has at most one row per thread.
//! Then, for a block of `R` rows:
//!
//! * every thread writes its registers at their row-major positions in a
//!   transient region (rows of the block's bytes, no padding), then
//!   `fence.proxy.async.shared::cta` and the barrier of the transient use;
//! * where the view's row stride equals the block's columns and the whole
//!   block lies inside the view's checked bounds (a runtime test, uniform
//!   over the block), the block is one contiguous range of global memory
//!   laid out as the staged rows: thread 0 copies it with one instruction;
//! * otherwise one thread per row (spread over the warps) copies it when
//!   it lies inside the view (its checked bounds: rows in `[0, extent)`,
//!   and the columns cut at the extent);
//! * each issuing thread commits and waits until the engine has read its
//!   source (`cp.async.bulk.wait_group.read 0`): the region stays pending
//!   until the next barrier, which every issuing thread reaches after its
//!   wait.

use tessera_tir::{Op, ValueId};

use super::Lowerer;
use super::block::BlockPtr;
use super::text::{memory_bytes, memory_type};
use crate::error::Result;

/// What the bulk copies of a block store need: the block's rows and
/// columns, and the bytes of an element.
struct BulkRows {
    rows: u32,
    cols: u32,
    bytes: u32,
}

impl Lowerer<'_, '_> {
    /// Lowers `op` (a `store_block` checking `checked`) with bulk copies
    /// when it qualifies (module docs); `Ok(false)` leaves it to the
    /// threads' stores.
    pub(super) fn bulk_store(&mut self, op: &Op, checked: &[u32]) -> Result<bool> {
        let value = Self::operand_value(op, 1)?;
        let Some(shape) = self.bulk_rows(op, value, checked) else { return Ok(false) };
        let elem = self.elem_of(value)?;
        let layout = self.layout_of(value)?;
        let regs = self.get(value, &layout)?;
        let map = layout.thread_map(self.shape_of(value)?);
        let staged = self.write_row_major(&regs, &map, elem, None)?;
        // The engine reads the rows through the async proxy.
        self.asm_memory_barrier("fence.proxy.async.shared::cta;");
        self.transient_sync(staged.at, staged.bytes);
        let (base, mty) = (staged.base, memory_type(elem));
        let row_bytes = u64::from(shape.cols * shape.bytes);

        let (bp, _) = self.block_operand(op)?;
        let row0 = self.w.conv("extsi", &bp.offsets[0], "i32", "i64");
        let col = self.w.conv("extsi", &bp.offsets[1], "i32", "i64");
        if self.codegen.bulk_store_rows {
            self.bulk_rows_out(&bp, &shape, checked, (&row0, &col), &base, mty);
            return Ok(true);
        }
        // Where the view's rows are exactly the block's (row stride ==
        // columns) and the whole block lies inside it, the block is one
        // contiguous range of global memory, as the staged rows are: one
        // copy from one thread, instead of one a row from every warp.
        let block_cols = self.w.int(i64::from(shape.cols), "i64");
        let zero = self.w.int(0, "i64");
        let mut whole = self.w.cmpi("eq", &bp.strides[0], &block_cols, "i64");
        if checked.contains(&0) {
            let block_rows = self.w.int(i64::from(shape.rows), "i64");
            let end = self.w.bin("addi", &row0, &block_rows, "i64");
            let above = self.w.cmpi("sge", &row0, &zero, "i64");
            let below = self.w.cmpi("sle", &end, &bp.shape[0], "i64");
            whole = self.w.and(&whole, &above);
            whole = self.w.and(&whole, &below);
        }
        if checked.contains(&1) {
            let end = self.w.bin("addi", &col, &block_cols, "i64");
            let from = self.w.cmpi("sge", &col, &zero, "i64");
            let inside = self.w.cmpi("sle", &end, &bp.shape[1], "i64");
            whole = self.w.and(&whole, &from);
            whole = self.w.and(&whole, &inside);
        }
        self.w.open(format!("scf.if {whole} {{"));
        let first = self.thread_zero();
        self.w.open(format!("scf.if {first} {{"));
        let dst = self.block_address(&bp, &[row0.clone(), col.clone()], mty);
        let size = self.w.i32((u64::from(shape.rows) * row_bytes) as i64);
        let src = self.w.def(format!("llvm.ptrtoint {base} : !llvm.ptr<3> to i32"));
        self.bulk_copy_out(&dst, &src, &size);
        self.w.line("scf.yield");
        self.w.close("}");
        self.w.line("scf.yield");
        self.w.close("} else {");
        self.w.depth_in();
        self.bulk_rows_out(&bp, &shape, checked, (&row0, &col), &base, mty);
        self.w.line("scf.yield");
        self.w.close("}");
        Ok(true)
    }

    /// One copy a row of the block staged at `base` (rows packed) to rows
    /// `row0..` of the view from column `col` on, each cut at the view's
    /// checked bounds.
    fn bulk_rows_out(
        &mut self,
        bp: &BlockPtr,
        shape: &BulkRows,
        checked: &[u32],
        (row0, col): (&str, &str),
        base: &str,
        mty: &str,
    ) {
        // Row `r` goes to lane `r % per_warp` of warp `r / per_warp`: the
        // engine's instruction takes uniform operands, so ptxas issues it
        // once per distinct lane, and spreading the rows over the warps
        // shortens each warp's turn.
        let warps = self.kernel.meta.num_warps;
        let per_warp = if shape.rows.is_multiple_of(warps) { shape.rows / warps } else { 32 };
        let per_warp_reg = self.w.i32(i64::from(per_warp));
        let (lane, warp) = (self.lane.clone(), self.warp.clone());
        let first = self.w.bin("muli", &warp, &per_warp_reg, "i32");
        let slot = self.w.bin("addi", &first, &lane, "i32");
        let rows = self.w.i32(i64::from(shape.rows));
        let in_turn = self.w.cmpi("slt", &lane, &per_warp_reg, "i32");
        let in_block = self.w.cmpi("slt", &slot, &rows, "i32");
        let mut copies = self.w.and(&in_turn, &in_block);
        let slot64 = self.w.conv("extsi", &slot, "i32", "i64");
        let row = self.w.bin("addi", row0, &slot64, "i64");
        let zero = self.w.int(0, "i64");
        let mut cols = self.w.int(i64::from(shape.cols), "i64");
        if checked.contains(&0) {
            let above = self.w.cmpi("sge", &row, &zero, "i64");
            let below = self.w.cmpi("slt", &row, &bp.shape[0], "i64");
            copies = self.w.and(&copies, &above);
            copies = self.w.and(&copies, &below);
        }
        if checked.contains(&1) {
            // The row's columns inside the view: a multiple of 16 bytes,
            // since the extent and the offset are.
            let inside = self.w.bin("subi", &bp.shape[1], col, "i64");
            cols = self.w.bin("minsi", &cols, &inside, "i64");
            let some = self.w.cmpi("sgt", &cols, &zero, "i64");
            let from = self.w.cmpi("sge", col, &zero, "i64");
            copies = self.w.and(&copies, &some);
            copies = self.w.and(&copies, &from);
        }
        let elem_bytes = self.w.int(i64::from(shape.bytes), "i64");
        let size = self.w.bin("muli", &cols, &elem_bytes, "i64");
        let size = self.w.conv("trunci", &size, "i64", "i32");
        self.w.open(format!("scf.if {copies} {{"));
        let dst = self.block_address(bp, &[row, col.to_string()], mty);
        let pitch = self.w.i32(i64::from(shape.cols * shape.bytes));
        let offset = self.w.bin("muli", &slot, &pitch, "i32");
        let src = self.w.gep(base, &offset, "i32", "!llvm.ptr<3>", "i8");
        let src = self.w.def(format!("llvm.ptrtoint {src} : !llvm.ptr<3> to i32"));
        self.bulk_copy_out(&dst, &src, &size);
        self.w.line("scf.yield");
        self.w.close("}");
    }

    /// `size` bytes from shared `src` (an i32 address) to global `dst`,
    /// committed and waited for until the engine has read them: the
    /// staging region may be reused after the next barrier.
    fn bulk_copy_out(&mut self, dst: &str, src: &str, size: &str) {
        let dst = self.w.def(format!("llvm.ptrtoint {dst} : !llvm.ptr<1> to i64"));
        self.asm_effect(
            "cp.async.bulk.global.shared::cta.bulk_group [$0], [$1], $2;",
            &[(dst.as_str(), "i64"), (src, "i32"), (size, "i32")],
            true,
        );
        self.asm_memory_barrier("cp.async.bulk.commit_group;");
        self.asm_memory_barrier("cp.async.bulk.wait_group.read 0;");
    }

    /// The block's rows, columns and element bytes when `op` (storing
    /// `value`, checking `checked`) qualifies for bulk copies.
    fn bulk_rows(&self, op: &Op, value: ValueId, checked: &[u32]) -> Option<BulkRows> {
        if self.codegen.cp_async_only || !self.wgmma_buffers || self.pipelined.is_empty() {
            return None;
        }
        let shape = self.shape_of(value).ok()?;
        let &[rows, cols] = shape else { return None };
        let bytes = memory_bytes(self.elem_of(value).ok()?);
        if !(cols * bytes).is_multiple_of(16)
            || rows > 32 * self.kernel.meta.num_warps
            || self.lk.flexible.contains(&value)
        {
            return None;
        }
        let (make, advances) = self.block_origin(*op.operands.first()?, 1)?;
        // Operands: base, two extents, two strides, two offsets.
        if make.operands.len() != 7 {
            return None;
        }
        let vector = u64::from(16 / bytes);
        let (base, col_extent, row_stride, col_stride, col_offset) =
            (make.operands[0], make.operands[2], make.operands[3], make.operands[4], make.operands[6]);
        // The constant 1 counts among the unit values.
        let unit = self.lk.unit_values.contains(&col_stride);
        let aligned = self.divisible(base, 16)
            && self.divisible(row_stride, vector)
            && self.divisible(col_offset, vector)
            && advances.iter().all(|&a| self.divisible(a, vector))
            && (!checked.contains(&1) || self.divisible(col_extent, vector));
        (unit && aligned).then_some(BulkRows { rows, cols, bytes })
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{LIGHTNING, MATMUL, compiled};
    use crate::{Codegen, GpuArch, Target};

    const BULK_STORE: &str = "cp.async.bulk.global.shared::cta.bulk_group";

    fn mlir(source: &str, kernel: &str, consts: &[(&str, i64)], target: Target) -> String {
        compiled(source, kernel, consts, target).stages.mlir
    }

    const WALK: [(&str, i64); 5] = [("DK", 128), ("BLOCK", 64), ("BLOCK_E", 64), ("warps", 8), ("stages", 3)];

    /// The lightning walk's output block (64 rows of 64 bf16, 128 bytes)
    /// leaves through the engine on sm_90a: written row-major, a proxy
    /// fence, then either one copy of the whole block (8 KB) from thread 0
    /// where the view's rows are the block's, or one copy a row from 8
    /// lanes of each warp; each copy waited for until read; no thread
    /// stores the block.
    #[test]
    fn the_walk_stores_its_output_rows_with_bulk_copies() {
        let mlir = mlir(LIGHTNING, "la_output_bf16", &WALK, Target::new(GpuArch::Sm90a));
        let (walk, _) = mlir.split_once("mbarrier.inval").expect("the walk ends");
        let (_, body) = walk.rsplit_once("} do {").expect("the walk");
        assert_eq!(body.matches(BULK_STORE).count(), 2, "the whole block, or its rows");
        let at = |needle: &str| body.find(needle).unwrap_or_else(|| panic!("{needle} not in the walk"));
        let fence = at("fence.proxy.async.shared::cta");
        let (whole, rows) = body[fence..].split_once("} else {").expect("two ways out");
        assert!(whole.contains("nvvm.barrier0"), "a barrier after the fence");
        assert!(whole.contains("arith.constant 8192 : i32"), "the block's 64 x 128 bytes in one copy");
        let tid = mlir.lines().find_map(|l| l.trim().strip_suffix(" = nvvm.read.ptx.sreg.tid.x : i32")).expect("tid");
        assert!(whole.contains(&format!("arith.cmpi eq, {tid}, ")), "from thread 0");
        for path in [whole, rows] {
            let (copy, commit, read) = (
                path.find(BULK_STORE).expect("a copy"),
                path.find("cp.async.bulk.commit_group;").expect("a commit"),
                path.find("cp.async.bulk.wait_group.read 0;").expect("a wait"),
            );
            assert!(copy < commit && commit < read);
        }
        let global_stores = body.lines().filter(|l| l.contains("llvm.store") && l.contains("!llvm.ptr<1>")).count();
        assert_eq!(global_stores, 0, "no thread stores the block");
    }

    /// Asked for rows only (`--bulk-store-rows`), the block leaves a row at
    /// a time: no test for the whole block, no copy of it, the rows' copies
    /// still behind the staging fence and waited for until read.
    #[test]
    fn rows_only_never_copies_the_whole_block() {
        let rows_only =
            Target::new(GpuArch::Sm90a).with_codegen(Codegen { bulk_store_rows: true, ..Default::default() });
        let mlir = mlir(LIGHTNING, "la_output_bf16", &WALK, rows_only);
        let (walk, _) = mlir.split_once("mbarrier.inval").expect("the walk ends");
        let (_, body) = walk.rsplit_once("} do {").expect("the walk");
        let fence = body.find("fence.proxy.async.shared::cta").expect("the staging fence");
        let out = &body[fence..];
        // The default has two: the whole block's, and the rows'.
        assert_eq!(body.matches(BULK_STORE).count(), 1, "the rows' copy only, no copy of the whole block");
        let (copy, read) =
            (out.find(BULK_STORE).expect("a copy"), out.find("cp.async.bulk.wait_group.read 0;").expect("a wait"));
        assert!(copy < read);
    }

    /// Asked for `cp.async` only, on sm_80, or outside a pipelined loop (the
    /// matmul's epilogue), block stores stay the threads'.
    #[test]
    fn other_block_stores_stay_with_the_threads() {
        let cp_async_only =
            Target::new(GpuArch::Sm90a).with_codegen(Codegen { cp_async_only: true, ..Default::default() });
        for target in [cp_async_only, Target::new(GpuArch::Sm80)] {
            let mlir = mlir(LIGHTNING, "la_output_bf16", &WALK, target);
            assert!(!mlir.contains(BULK_STORE), "{target:?}");
        }
        let consts = [("BLOCK_M", 128), ("BLOCK_N", 256), ("BLOCK_K", 64), ("GROUP_M", 8), ("warps", 8), ("stages", 3)];
        let mlir = mlir(MATMUL, "matmul_aligned", &consts, Target::new(GpuArch::Sm90a));
        assert!(mlir.contains("cp.async.bulk.tensor"), "bulk loads");
        assert!(!mlir.contains(BULK_STORE), "the epilogue's store is the threads'");
    }
}
