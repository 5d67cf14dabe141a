//! Structured control flow: `for` and `while` become `scf.while`, `if`
//! becomes `scf.if`; loop-carried and yielded tensors travel as their
//! registers, in the layouts layout assignment gave them.
//!
//! A `for` runs while `iv < upper` for a positive step and `iv > upper`
//! otherwise (the tile IR's contract), so it cannot be `scf.for`, which only
//! counts upwards. Conditions are scalars, equal in every thread, so barriers
//! inside the branches and bodies are reached by all threads together.

use tessera_tir::{Op, Region, ValueId};

use super::Lowerer;
use super::pipeline::CopyMode;
use super::text::elem_type;
use crate::error::{Result, Stage};

/// The SSA names of an `scf.while` ([`Lowerer::open_while`]): its before
/// region's arguments, its body's, its result, and its carried types.
struct WhileLoop {
    before: Vec<String>,
    after: Vec<String>,
    result: String,
    type_list: String,
}

impl Lowerer<'_, '_> {
    /// The MLIR register types of `values`, flattened.
    fn register_types(&self, values: &[ValueId]) -> Result<Vec<String>> {
        let mut types = Vec::new();
        for &v in values {
            if let Some(rank) = self.block_rank(v) {
                types.extend(super::block::BlockPtr::register_types(rank));
                continue;
            }
            let ty = elem_type(self.elem_of(v)?).to_string();
            let shape = self.shape_of(v)?;
            let n = if shape.is_empty() { 1 } else { self.layout_of(v)?.thread_map(shape).regs.len() };
            types.extend(std::iter::repeat_n(ty, n));
        }
        Ok(types)
    }

    /// Binds `values` to consecutive names from `names`, each taking as many
    /// as its layout has registers; returns how many were used.
    fn bind(&mut self, values: &[ValueId], names: &[String]) -> Result<usize> {
        let mut at = 0;
        for &v in values {
            let shape = self.shape_of(v)?;
            let n = match self.block_rank(v) {
                Some(rank) => 1 + 3 * rank,
                None if shape.is_empty() => 1,
                None => self.layout_of(v)?.thread_map(shape).regs.len(),
            };
            let regs = names
                .get(at..at + n)
                .ok_or_else(|| crate::error::BackendError::new(Stage::Layout, format!("{v}: too few registers")))?
                .to_vec();
            self.define(v, regs)?;
            at += n;
        }
        Ok(at)
    }

    fn operands_from(&mut self, op: &Op, from: usize) -> Result<Vec<String>> {
        let mut regs = Vec::new();
        for i in from..op.operands.len() {
            regs.extend(self.operand(op, i)?);
        }
        Ok(regs)
    }

    fn names(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.w.fresh()).collect()
    }

    fn results(name: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{name}#{i}")).collect()
    }

    /// Opens an `scf.while` carrying `carried_in` (of `types`): its before
    /// region comes next, then [`Self::while_body`].
    fn open_while(&mut self, carried_in: &[String], types: &[String]) -> WhileLoop {
        let before = self.names(types.len());
        let after = self.names(types.len());
        let result = self.w.fresh();
        let type_list = types.join(", ");
        let pairs: Vec<String> = before.iter().zip(carried_in).map(|(a, b)| format!("{a} = {b}")).collect();
        self.w.open(format!(
            "{result}:{} = scf.while ({}) : ({type_list}) -> ({type_list}) {{",
            types.len(),
            pairs.join(", ")
        ));
        WhileLoop { before, after, result, type_list }
    }

    /// Ends an `scf.while`'s before region on `condition`, passing its
    /// arguments on, and opens the body with arguments `after`.
    fn while_body(&mut self, condition: &str, before: &[String], after: &[String], types: &[String]) {
        self.w.line(format!("scf.condition({condition}) {} : {}", before.join(", "), types.join(", ")));
        self.w.close("} do {");
        let args: Vec<String> = after.iter().zip(types).map(|(a, t)| format!("{a}: {t}")).collect();
        self.w.line(format!("^bb0({}):", args.join(", ")));
        self.w.depth_in();
    }

    pub(super) fn for_loop(&mut self, op: &Op) -> Result<()> {
        let body = op.regions.first().ok_or_else(|| Self::err(op, Stage::MalformedIr, "`for` without a body"))?;
        let iters = body
            .args
            .get(1..)
            .ok_or_else(|| Self::err(op, Stage::MalformedIr, "`for` body without an induction variable"))?;
        self.hoist_invariant_operands(&op.regions)?;
        let saved_pin = self.shared_pinned;
        let mut pipeline = self.pipeline_plan(body)?;
        let proven = pipeline.as_ref().is_some_and(|pipe| self.vector_copies_proven(op, pipe));
        if let (true, Some(pipe)) = (proven, pipeline.as_mut()) {
            self.bulk_copy_plan(op, body, pipe)?;
        }
        let condition = match pipeline.as_ref() {
            Some(pipe) if !proven => self.pipeline_vector_condition(op, pipe).transpose(),
            _ => None,
        };
        let results = match condition {
            // Loop versioning: whether every pipelined copy may be a
            // `cp.async` vector is uniform and loop-invariant, so it is
            // decided once, and each version carries only its own copies
            // (the general one would otherwise hold registers in the fast
            // loop).
            Some(vector) => {
                let vector = vector?;
                let types = self.register_types(iters)?;
                let versioned = self.w.fresh();
                let type_list = types.join(", ");
                let yield_all = |s: &mut Self, regs: &[String]| {
                    s.w.line(if regs.is_empty() {
                        "scf.yield".to_string()
                    } else {
                        format!("scf.yield {} : {type_list}", regs.join(", "))
                    })
                };
                if types.is_empty() {
                    self.w.open(format!("scf.if {vector} {{"));
                } else {
                    self.w.open(format!("{versioned}:{} = scf.if {vector} -> ({type_list}) {{", types.len()));
                }
                // Values rebuilt inside one version are not visible in the other.
                let entry = self.transient_pending.clone();
                self.scopes.push(Default::default());
                let fast = self.for_loop_version(op, body, pipeline.as_ref(), CopyMode::Vector);
                self.scopes.pop();
                let fast = fast?;
                yield_all(self, &fast);
                let after_fast = std::mem::replace(&mut self.transient_pending, entry);
                self.w.close("} else {");
                self.w.depth_in();
                self.scopes.push(Default::default());
                let general = self.for_loop_version(op, body, pipeline.as_ref(), CopyMode::Elements);
                self.scopes.pop();
                let general = general?;
                yield_all(self, &general);
                self.transient_pending = Self::pending_union(after_fast, std::mem::take(&mut self.transient_pending));
                self.w.close("}");
                Self::results(&versioned, types.len())
            }
            // Known at compile time: only the vector version.
            None if proven => self.for_loop_version(op, body, pipeline.as_ref(), CopyMode::Vector)?,
            None => self.for_loop_version(op, body, pipeline.as_ref(), CopyMode::Checked)?,
        };
        self.bind(&op.results, &results)?;
        self.shared_pinned = saved_pin;
        Ok(())
    }

    /// One version of a `for` loop (see [`Self::for_loop`]), its pipelined
    /// copies made as `mode` says; returns the loop results' registers.
    fn for_loop_version(
        &mut self,
        op: &Op,
        body: &Region,
        pipeline: Option<&super::pipeline::Pipeline>,
        mode: CopyMode,
    ) -> Result<Vec<String>> {
        let outer_mode = std::mem::replace(&mut self.copy_mode, mode);
        let bounds = [Self::operand_value(op, 0)?, Self::operand_value(op, 1)?, Self::operand_value(op, 2)?];
        let iv_ty = elem_type(self.elem_of(bounds[0])?).to_string();
        let lower = self.operand(op, 0)?.concat();
        let upper = self.operand(op, 1)?.concat();
        let step = self.operand(op, 2)?.concat();
        if pipeline.is_some() && !self.transient_pending.is_empty() {
            // The pipeline's buffers start where transient regions may
            // still be read. After this barrier only regions above the
            // buffers (the initial values' conversions) can be pending, so
            // the prologue's copies land on nothing still read.
            self.full_barrier();
        }
        let inits = self.operands_from(op, 3)?;
        let iters = body.args.get(1..).unwrap_or(&[]);
        let mut types = vec![iv_ty.clone()];
        types.extend(self.register_types(iters)?);
        let mut carried_in = vec![lower.clone()];
        carried_in.extend(inits);
        let entry_pending = self.transient_pending.clone();
        let entry_uses = self.transient_uses;
        if let Some(pipe) = pipeline {
            if let Some(bulk) = &pipe.bulk {
                self.bulk_init(bulk, pipe.stages)?;
            }
            // Prologue: the tiles of iterations 0..stages - 1, one group each.
            let inits = |iter: usize| op.operands.get(3 + iter).copied();
            for s in 0..pipe.stages - 1 {
                let k = self.w.int(i64::from(s), &iv_ty);
                let ahead = self.w.bin("muli", &step, &k, &iv_ty);
                let iv = self.w.bin("addi", &lower, &ahead, &iv_ty);
                let valid = self.loop_runs(&iv, &upper, &step, &iv_ty);
                let tiles = self.tiles_ahead(body, pipe, &inits, &lower, (&step, &iv_ty), s)?;
                let slot = self.w.i32(i64::from(s));
                self.pipeline_issue(pipe, &tiles, &slot, &valid)?;
            }
            types.push("i32".to_string());
            carried_in.push(self.w.i32(0));
        }
        let WhileLoop { before, after, result, type_list } = self.open_while(&carried_in, &types);
        let zero = self.w.int(0, &iv_ty);
        let positive = self.w.cmpi("sgt", &step, &zero, &iv_ty);
        let below = self.w.cmpi("slt", &before[0], &upper, &iv_ty);
        let above = self.w.cmpi("sgt", &before[0], &upper, &iv_ty);
        let go = self.w.select(&positive, &below, &above, "i1");
        self.while_body(&go, &before, &after, &types);
        self.bind(&body.args, &after)?;
        let mut next_it = None;
        if let Some(pipe) = pipeline {
            let it = after.last().cloned().unwrap_or_default();
            let slot = if let Some(bulk) = &pipe.bulk {
                let stages = self.w.i32(i64::from(pipe.stages));
                let slot = self.w.bin("remui", &it, &stages, "i32");
                self.bulk_wait(bulk, &it, &slot, pipe.stages);
                if pipe.deferred.is_empty() {
                    // The refill below overwrites what the previous trip read.
                    self.full_barrier();
                }
                slot
            } else {
                let pending = pipe.stages.saturating_sub(2);
                self.asm_void(&format!("cp.async.wait_group {pending};"));
                if pipe.wgmma {
                    // `wgmma` reads through the async proxy what `cp.async` wrote
                    // through the generic one.
                    self.asm_void("fence.proxy.async.shared::cta;");
                }
                self.full_barrier();
                let stages = self.w.i32(i64::from(pipe.stages));
                self.w.bin("remui", &it, &stages, "i32")
            };
            if pipe.deferred.is_empty() {
                self.pipeline_refill(body, pipe, &after[0], &it, &upper, &step, &iv_ty)?;
            }
            for load in &pipe.loads {
                let staged = self.pipeline_buffer(load, &slot);
                self.pipelined.insert(load.result, staged);
            }
            self.deferred_wgmma.extend(pipe.deferred.iter().map(|&(dot, _)| dot));
            let one = self.w.i32(1);
            next_it = Some(self.w.bin("addi", &it, &one, "i32"));
        }
        let yielded = self.region(body)?;
        if pipeline.is_none() && self.transient_uses != entry_uses {
            // The next iteration reuses this one's transient regions.
            self.full_barrier();
        }
        if let Some(pipe) = pipeline.filter(|p| !p.deferred.is_empty()) {
            // Every warpgroup has waited for the previous iteration's
            // `wgmma`s: its buffer may be refilled.
            self.full_barrier();
            let it = after.last().cloned().unwrap_or_default();
            self.pipeline_refill(body, pipe, &after[0], &it, &upper, &step, &iv_ty)?;
        }
        let next = self.w.bin("addi", &after[0], &step, &iv_ty);
        let mut carried_out = vec![next];
        carried_out.extend(yielded);
        carried_out.extend(next_it);
        self.check_count(op, &carried_out, &types)?;
        self.w.line(format!("scf.yield {} : {type_list}", carried_out.join(", ")));
        self.w.close("}");
        // The loop results, without the induction variable and the
        // pipeline's iteration counter.
        let mut results = Self::results(&result, types.len());
        results.remove(0);
        results.truncate(results.len() - usize::from(pipeline.is_some()));
        if let Some(pipe) = pipeline {
            // The deferred accumulators are waited for only where the loop
            // ran: on the zero-trip path they are the initial values, and a
            // wait reading registers that no `wgmma` wrote makes ptxas
            // serialize every `wgmma` of the loop (C7515).
            let mut deferred_regs = Vec::new();
            let mut at = 0;
            for (position, &value) in iters.iter().enumerate() {
                let n = self.register_types(&[value])?.len();
                if pipe.deferred.iter().any(|&(_, p)| p == position) {
                    deferred_regs.push(at..at + n);
                }
                at += n;
            }
            if !deferred_regs.is_empty() {
                let ran = self.loop_runs(&lower, &upper, &step, &iv_ty);
                let mut regs: Vec<String> = deferred_regs.iter().flat_map(|r| results[r.clone()].to_vec()).collect();
                let f32s = vec!["f32"; regs.len()].join(", ");
                let merged = self.w.fresh();
                self.w.open(format!("{merged}:{} = scf.if {ran} -> ({f32s}) {{", regs.len()));
                let before = regs.clone();
                self.wgmma_wait_all(&mut regs, 128);
                self.w.line(format!("scf.yield {} : {f32s}", regs.join(", ")));
                self.w.close("} else {");
                self.w.depth_in();
                self.w.line(format!("scf.yield {} : {f32s}", before.join(", ")));
                self.w.close("}");
                let mut merged_regs = Self::results(&merged, regs.len()).into_iter();
                for range in deferred_regs {
                    for slot in &mut results[range] {
                        if let Some(r) = merged_regs.next() {
                            *slot = r;
                        }
                    }
                }
            }
            for &(dot, _) in &pipe.deferred {
                self.deferred_wgmma.remove(&dot);
            }
            match &pipe.bulk {
                // Every copy issued was for a trip that waited for it.
                Some(bulk) => self.bulk_release(bulk, pipe.stages)?,
                None => {
                    self.asm_void("cp.async.wait_group 0;");
                    self.full_barrier();
                }
            }
            for load in &pipe.loads {
                self.pipelined.remove(&load.result);
            }
        } else {
            // No iteration, or every one ended with a barrier: what was
            // pending at the entry may still be.
            self.transient_pending = entry_pending;
        }
        self.copy_mode = outer_mode;
        Ok(results)
    }

    /// Issues the copies of iteration `iv + (stages - 1) * step` into the
    /// buffer iteration `it - 1` read, and commits them.
    #[allow(clippy::too_many_arguments)]
    fn pipeline_refill(
        &mut self,
        body: &Region,
        pipe: &super::pipeline::Pipeline,
        iv: &str,
        it: &str,
        upper: &str,
        step: &str,
        iv_ty: &str,
    ) -> Result<()> {
        let stages = self.w.i32(i64::from(pipe.stages));
        let ahead = self.w.i32(i64::from(pipe.stages - 1));
        let refill = self.w.bin("addi", it, &ahead, "i32");
        let refill = self.w.bin("remui", &refill, &stages, "i32");
        let k = self.w.int(i64::from(pipe.stages - 1), iv_ty);
        let delta = self.w.bin("muli", step, &k, iv_ty);
        let iv_ahead = self.w.bin("addi", iv, &delta, iv_ty);
        let valid = self.loop_runs(&iv_ahead, upper, step, iv_ty);
        let carried = |iter: usize| body.args.get(1 + iter).copied();
        let tiles = self.tiles_ahead(body, pipe, &carried, iv, (step, iv_ty), pipe.stages - 1)?;
        self.pipeline_issue(pipe, &tiles, &refill, &valid)
    }

    pub(super) fn while_loop(&mut self, op: &Op) -> Result<()> {
        let (Some(before_region), Some(body)) = (op.regions.first(), op.regions.get(1)) else {
            return Err(Self::err(op, Stage::MalformedIr, "`while` needs a before region and a body"));
        };
        self.hoist_invariant_operands(&op.regions)?;
        let mut carried_in = self.operands_from(op, 0)?;
        let mut types = self.register_types(&op.operands)?;
        // scf.while needs something to carry; a dummy flag stands in for none.
        let dummy = types.is_empty();
        if dummy {
            carried_in.push(self.w.int(0, "i1"));
            types.push("i1".to_string());
        }
        let WhileLoop { before, after, result, type_list } = self.open_while(&carried_in, &types);
        self.bind(&before_region.args, &before)?;
        let entry_pending = self.transient_pending.clone();
        let entry_uses = self.transient_uses;
        let condition = self.region(before_region)?;
        let after_condition = self.transient_pending.clone();
        let condition = condition
            .first()
            .cloned()
            .ok_or_else(|| Self::err(op, Stage::MalformedIr, "`while` without a condition"))?;
        self.while_body(&condition, &before, &after, &types);
        self.bind(&body.args, &after)?;
        let mut yielded = self.region(body)?;
        if self.transient_uses != entry_uses {
            // The next iteration (its condition first) reuses this one's
            // transient regions.
            self.full_barrier();
        }
        // The loop ends after a condition, run first or after a body.
        self.transient_pending = Self::pending_union(entry_pending, after_condition);
        if dummy {
            yielded.push(after[0].clone());
        }
        self.check_count(op, &yielded, &types)?;
        self.w.line(format!("scf.yield {} : {type_list}", yielded.join(", ")));
        self.w.close("}");
        self.bind(&op.results, &Self::results(&result, types.len()))?;
        Ok(())
    }

    pub(super) fn if_op(&mut self, op: &Op) -> Result<()> {
        let condition = self.operand(op, 0)?.concat();
        let types = self.register_types(&op.results)?;
        let type_list = types.join(", ");
        let result = self.w.fresh();
        if types.is_empty() {
            self.w.open(format!("scf.if {condition} {{"));
        } else {
            self.w.open(format!("{result}:{} = scf.if {condition} -> ({type_list}) {{", types.len()));
        }
        let empty = Region::default();
        let entry = self.transient_pending.clone();
        let mut after_then = Vec::new();
        for (i, region) in
            [op.regions.first().unwrap_or(&empty), op.regions.get(1).unwrap_or(&empty)].into_iter().enumerate()
        {
            if i == 1 {
                self.w.close("} else {");
                self.w.depth_in();
                after_then = std::mem::replace(&mut self.transient_pending, entry.clone());
            }
            let yielded = self.region(region)?;
            self.check_count(op, &yielded, &types)?;
            if types.is_empty() {
                self.w.line("scf.yield");
            } else {
                self.w.line(format!("scf.yield {} : {type_list}", yielded.join(", ")));
            }
        }
        self.w.close("}");
        // Either branch may have run.
        self.transient_pending = Self::pending_union(after_then, std::mem::take(&mut self.transient_pending));
        if !types.is_empty() {
            self.bind(&op.results, &Self::results(&result, types.len()))?;
        }
        Ok(())
    }

    fn check_count(&self, op: &Op, values: &[String], types: &[String]) -> Result<()> {
        if values.len() == types.len() {
            Ok(())
        } else {
            Err(Self::err(
                op,
                Stage::Layout,
                format!("{} registers yielded where {} are carried", values.len(), types.len()),
            ))
        }
    }
}
