//! Global memory: pointer arithmetic, loads, stores, atomics and block
//! pointers.
//!
//! Every access resolves all its lanes to (buffer, element) addresses first,
//! checking bounds, and only then touches memory, so a faulting access
//! writes nothing. Masked-off lanes (and block-pointer lanes outside the
//! view on a checked axis) are never resolved: their addresses may be wild.

use crate::buffer::HostBuffer;
use crate::codes;
use crate::elem::{Elem, Scalar};
use crate::error::Fault;
use crate::value::{BlockPtr, Data, Ptr, Tensor, fmt_index, numel, unravel, visit_num, with_scalar_type};
use tessera_tir::{Padding, Param, ScalarType};

/// The memory a program sees: the launch's buffers and which buffer each
/// pointer parameter is bound to.
pub(crate) struct Memory<'m> {
    pub buffers: &'m mut [HostBuffer],
    pub param_buffers: &'m [Option<usize>],
    pub params: &'m [Param],
}

/// A resolved lane: buffer index and element index.
type Addr = Option<(usize, usize)>;

/// The offsets of an integer tensor, sign-extended.
pub(crate) fn int_values(t: &Tensor) -> Result<Vec<i64>, Fault> {
    fn widen<T: Elem>(v: &[T]) -> Result<Vec<i64>, Fault> {
        if T::TYPE.is_float() {
            return Err(Fault::malformed(format!("expected an integer operand, found {}", T::TYPE)));
        }
        Ok(v.iter()
            .map(|x| match x.to_scalar() {
                Scalar::Int(i) => i,
                Scalar::Float(f) => f as i64,
            })
            .collect())
    }
    visit_num!(&t.data, v => widen(v), ptr => Err(Fault::malformed("expected an integer operand, found a pointer")))
}

/// The lanes of an i1 mask of `shape`.
fn mask_values<'t>(mask: Option<&'t Tensor>, shape: &[u32]) -> Result<Option<&'t [bool]>, Fault> {
    let Some(mask) = mask else { return Ok(None) };
    match &mask.data {
        Data::I1(m) if mask.shape == shape => Ok(Some(m)),
        _ => Err(Fault::malformed(format!(
            "the mask must be an i1 tensor of shape {}, found {:?} of shape {}",
            fmt_index(shape),
            mask.data.scalar_type(),
            fmt_index(&mask.shape)
        ))),
    }
}

fn ptr_lanes<'t>(t: &'t Tensor, what: &str) -> Result<&'t [Ptr], Fault> {
    match &t.data {
        Data::Ptr(p) => Ok(p),
        _ => Err(Fault::malformed(format!("{what} expects a pointer operand"))),
    }
}

/// `addptr`: advance each pointer by its offset in elements.
pub(crate) fn addptr(ptrs: &Tensor, offsets: &Tensor) -> Result<Tensor, Fault> {
    let p = ptr_lanes(ptrs, "addptr")?;
    let o = int_values(offsets)?;
    if ptrs.shape != offsets.shape {
        return Err(Fault::malformed(format!(
            "addptr operands have shapes {} and {}",
            fmt_index(&ptrs.shape),
            fmt_index(&offsets.shape)
        )));
    }
    let data = p.iter().zip(&o).map(|(p, &o)| Ptr { param: p.param, off: p.off.wrapping_add(o) }).collect();
    Ok(Tensor { shape: ptrs.shape.clone(), data: Data::Ptr(data) })
}

impl Memory<'_> {
    fn param_name(&self, param: u32) -> &str {
        self.params.get(param as usize).map_or("?", |p| p.name.as_str())
    }

    fn buffer_of(&self, ptr: Ptr) -> Result<usize, Fault> {
        self.param_buffers.get(ptr.param as usize).copied().flatten().ok_or_else(|| {
            Fault::malformed(format!(
                "a pointer derives from `{}`, not a pointer parameter",
                self.param_name(ptr.param)
            ))
        })
    }

    /// Check one address: `lane` (of a tensor of `shape`) of `what` reads
    /// `ptr`.
    fn check(&self, what: &str, ptr: Ptr, lane: usize, shape: &[u32]) -> Result<(usize, usize), Fault> {
        let b = self.buffer_of(ptr)?;
        let len = self.buffers.get(b).map_or(0, HostBuffer::len);
        match usize::try_from(ptr.off) {
            Ok(i) if i < len => Ok((b, i)),
            _ => Err(Fault::new(
                codes::OUT_OF_BOUNDS,
                format!(
                    "{what} out of bounds: lane {} of a {} tensor addresses element {} of `{}` (buffer {b}), which has {len} elements",
                    fmt_index(&unravel(lane, shape)),
                    fmt_index(shape),
                    ptr.off,
                    self.param_name(ptr.param),
                ),
            )
            .with_help(out_of_bounds_help(what))),
        }
    }

    /// Resolve every unmasked lane.
    fn resolve(&self, what: &str, ptrs: &Tensor, mask: Option<&Tensor>) -> Result<Vec<Addr>, Fault> {
        let p = ptr_lanes(ptrs, what)?;
        let m = mask_values(mask, &ptrs.shape)?;
        p.iter()
            .enumerate()
            .map(|(lane, &ptr)| {
                if m.is_some_and(|m| !m[lane]) { Ok(None) } else { self.check(what, ptr, lane, &ptrs.shape).map(Some) }
            })
            .collect()
    }

    /// Read the resolved lanes; unresolved ones take `fill(lane)`.
    fn read<T: Elem>(&self, addrs: &[Addr], fill: impl Fn(usize) -> T) -> Result<Vec<T>, Fault> {
        let mut cached: Option<(usize, &[T])> = None;
        let mut out = Vec::with_capacity(addrs.len());
        for (lane, addr) in addrs.iter().enumerate() {
            let Some((b, i)) = *addr else {
                out.push(fill(lane));
                continue;
            };
            let slice = match cached {
                Some((cb, s)) if cb == b => s,
                _ => {
                    let s = self.typed::<T>(b)?;
                    cached = Some((b, s));
                    s
                }
            };
            out.push(slice[i]);
        }
        Ok(out)
    }

    fn typed<T: Elem>(&self, b: usize) -> Result<&[T], Fault> {
        self.buffers.get(b).and_then(|buf| T::host(&buf.data)).ok_or_else(|| self.type_mismatch::<T>(b))
    }

    fn type_mismatch<T: Elem>(&self, b: usize) -> Fault {
        let held = self.buffers.get(b).map_or("nothing".to_string(), |buf| buf.elem().to_string());
        Fault::malformed(format!("an access of {} elements reaches buffer {b}, which holds {held}", T::TYPE))
    }

    /// Apply `f(lane, &mut element)` to every resolved lane, in lane order,
    /// one buffer at a time (lanes almost always share one).
    fn update<T: Elem>(&mut self, addrs: &[Addr], mut f: impl FnMut(usize, &mut T)) -> Result<(), Fault> {
        let mut targets: Vec<usize> = addrs.iter().flatten().map(|&(b, _)| b).collect();
        targets.sort_unstable();
        targets.dedup();
        for b in targets {
            let mismatch = self.type_mismatch::<T>(b);
            let slice = self.buffers.get_mut(b).and_then(|buf| T::host_mut(&mut buf.data)).ok_or(mismatch)?;
            for (lane, addr) in addrs.iter().enumerate() {
                if let Some((ab, i)) = *addr
                    && ab == b
                {
                    f(lane, &mut slice[i]);
                }
            }
        }
        Ok(())
    }

    /// `load`: masked-off lanes read `other` (or 0).
    pub fn load(
        &self,
        pointee: ScalarType,
        ptrs: &Tensor,
        mask: Option<&Tensor>,
        other: Option<&Tensor>,
    ) -> Result<Tensor, Fault> {
        let addrs = self.resolve("load", ptrs, mask)?;
        let data = with_scalar_type!(pointee, T => {
            let other: Option<&[T]> = match other {
                None => None,
                Some(o) => Some(same_shape_values::<T>(o, &ptrs.shape, "load's `other`")?),
            };
            T::into_data(self.read::<T>(&addrs, |lane| other.map_or(T::default(), |o| o[lane]))?)
        });
        Ok(Tensor { shape: ptrs.shape.clone(), data })
    }

    /// `store`: masked-off lanes write nothing.
    pub fn store(&mut self, ptrs: &Tensor, value: &Tensor, mask: Option<&Tensor>) -> Result<(), Fault> {
        let addrs = self.resolve("store", ptrs, mask)?;
        check_shape(value, &ptrs.shape, "the stored value")?;
        visit_num!(&value.data, v => self.update(&addrs, |lane, slot| *slot = v[lane]),
            ptr => Err(Fault::malformed("store of a pointer value")))
    }

    /// `atomic_add`: returns the old values (0 on masked-off lanes). Lanes
    /// apply in row-major order, so duplicate addresses accumulate.
    pub fn atomic_add(&mut self, ptrs: &Tensor, value: &Tensor, mask: Option<&Tensor>) -> Result<Tensor, Fault> {
        let addrs = self.resolve("atomic_add", ptrs, mask)?;
        fn rmw<T: Elem>(mem: &mut Memory<'_>, addrs: &[Addr], v: &[T]) -> Result<Data, Fault> {
            if T::TYPE == ScalarType::I1 {
                return Err(Fault::malformed("atomic_add on i1"));
            }
            let mut old = vec![T::default(); addrs.len()];
            mem.update::<T>(addrs, |lane, slot| {
                old[lane] = *slot;
                *slot = T::from_acc(T::acc_add(slot.acc(), v[lane].acc()));
            })?;
            Ok(T::into_data(old))
        }
        check_shape(value, &ptrs.shape, "the added value")?;
        let data = visit_num!(&value.data, v => rmw(self, &addrs, v)?,
            ptr => return Err(Fault::malformed("atomic_add of a pointer value")));
        Ok(Tensor { shape: ptrs.shape.clone(), data })
    }

    /// Resolve the lanes of a block pointer's tile. Lanes outside the view on
    /// a `checked` axis resolve to None; outside on another axis is an error.
    fn resolve_block(&self, what: &str, bp: &BlockPtr, checked: &[u32]) -> Result<Vec<Addr>, Fault> {
        let rank = bp.block.len();
        if let Some(&axis) = checked.iter().find(|&&a| a as usize >= rank) {
            return Err(Fault::malformed(format!("{what} checks axis {axis} of a rank-{rank} block")));
        }
        let n = numel(&bp.block);
        let mut addrs = Vec::with_capacity(n);
        let mut idx = vec![0u32; rank];
        for lane in 0..n {
            let mut off = Some(bp.base.off);
            let mut padded = false;
            for d in 0..rank {
                let c = bp.offsets[d].saturating_add(i64::from(idx[d]));
                if c < 0 || c >= bp.shape[d] {
                    if checked.contains(&(d as u32)) {
                        padded = true;
                        continue;
                    }
                    return Err(Fault::new(
                        codes::BLOCK_OUT_OF_BOUNDS,
                        format!(
                            "{what} out of bounds: lane {} of the block is at {c} on axis {d}, outside the view's {} elements, and axis {d} is not in boundary_check",
                            fmt_index(&idx),
                            bp.shape[d]
                        ),
                    )
                    .with_help(format!("add {d} to boundary_check, or keep the block inside the view")));
                }
                off = off.and_then(|o| o.checked_add(c.checked_mul(bp.strides[d])?));
            }
            if padded {
                addrs.push(None);
            } else {
                // An i64 overflow is as out of bounds as an address gets.
                let ptr = Ptr { param: bp.base.param, off: off.unwrap_or(i64::MAX) };
                addrs.push(Some(self.check(what, ptr, lane, &bp.block)?));
            }
            // Odometer over the block.
            for d in (0..rank).rev() {
                idx[d] += 1;
                if idx[d] < bp.block[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Ok(addrs)
    }

    /// `load_block`: lanes outside the view on checked axes read `padding`.
    pub fn load_block(
        &self,
        elem: ScalarType,
        bp: &BlockPtr,
        checked: &[u32],
        padding: Padding,
    ) -> Result<Tensor, Fault> {
        if padding == Padding::Nan && !elem.is_float() {
            return Err(Fault::malformed(format!("NaN padding for a block of {elem}")));
        }
        let addrs = self.resolve_block("load_block", bp, checked)?;
        let pad = match padding {
            Padding::Zero => Scalar::Int(0),
            Padding::Nan => Scalar::Float(f64::NAN),
        };
        let data = with_scalar_type!(elem, T => {
            let pad = T::from_scalar(pad);
            T::into_data(self.read::<T>(&addrs, |_| pad)?)
        });
        Ok(Tensor { shape: bp.block.clone(), data })
    }

    /// `store_block`: lanes outside the view on checked axes are skipped.
    pub fn store_block(&mut self, bp: &BlockPtr, value: &Tensor, checked: &[u32]) -> Result<(), Fault> {
        let addrs = self.resolve_block("store_block", bp, checked)?;
        check_shape(value, &bp.block, "the stored block")?;
        visit_num!(&value.data, v => self.update(&addrs, |lane, slot| *slot = v[lane]),
            ptr => Err(Fault::malformed("store_block of a pointer value")))
    }
}

/// The values of `t` as `T`, checking its shape.
/// How to fix an out-of-bounds access by the op named `what`, written with
/// that op's own call form.
fn out_of_bounds_help(what: &str) -> String {
    let call = match what {
        "load" => "load(ptrs, mask = offs < n)",
        "store" => "store(ptrs, value, mask = offs < n)",
        "atomic_add" => "atomic_add(ptrs, value, mask = offs < n)",
        // Block ops: the element is inside the view, so the view itself
        // reaches past the buffer.
        _ => return "the block pointer's view reaches past the buffer: check the shape and strides given to `make_block_ptr`".to_string(),
    };
    format!("mask the lanes that fall outside the buffer, e.g. `{call}`")
}

fn same_shape_values<'t, T: Elem>(t: &'t Tensor, shape: &[u32], what: &str) -> Result<&'t [T], Fault> {
    match T::data(&t.data) {
        Some(v) if t.shape == shape => Ok(v),
        _ => Err(Fault::malformed(format!(
            "{what} must be a {} tensor of shape {}, found {:?} of shape {}",
            T::TYPE,
            fmt_index(shape),
            t.data.scalar_type(),
            fmt_index(&t.shape)
        ))),
    }
}

fn check_shape(t: &Tensor, shape: &[u32], what: &str) -> Result<(), Fault> {
    if t.shape == shape {
        Ok(())
    } else {
        Err(Fault::malformed(format!("{what} has shape {}, expected {}", fmt_index(&t.shape), fmt_index(shape))))
    }
}

/// `make_block_ptr`: base, then `rank` each of shape, strides, offsets.
pub(crate) fn make_block_ptr(operands: &[&Tensor], block: &[u32]) -> Result<BlockPtr, Fault> {
    let rank = block.len();
    if operands.len() != 1 + 3 * rank {
        return Err(Fault::malformed(format!(
            "make_block_ptr of rank {rank} takes {} operands, found {}",
            1 + 3 * rank,
            operands.len()
        )));
    }
    let base = match ptr_lanes(operands[0], "make_block_ptr")? {
        [p] => *p,
        _ => return Err(Fault::malformed("make_block_ptr's base must be a scalar pointer")),
    };
    let scalars = |ts: &[&Tensor]| -> Result<Vec<i64>, Fault> {
        ts.iter()
            .map(|t| match int_values(t)?.as_slice() {
                [v] => Ok(*v),
                _ => Err(Fault::malformed("make_block_ptr's shape, strides and offsets must be scalars")),
            })
            .collect()
    };
    let shape = scalars(&operands[1..1 + rank])?;
    let strides = scalars(&operands[1 + rank..1 + 2 * rank])?;
    let offsets = scalars(&operands[1 + 2 * rank..])?;
    if let Some((axis, &d)) = shape.iter().enumerate().find(|(_, d)| **d < 0) {
        return Err(Fault::new(
            codes::BLOCK_SHAPE,
            format!("make_block_ptr: the view's shape is {d} on axis {axis}; shapes must not be negative"),
        ));
    }
    Ok(BlockPtr { base, shape, strides, offsets, block: block.to_vec() })
}

/// `advance`: move a block pointer's offsets.
pub(crate) fn advance(bp: &BlockPtr, offsets: &[&Tensor]) -> Result<BlockPtr, Fault> {
    if offsets.len() != bp.block.len() {
        return Err(Fault::malformed(format!(
            "advance of a rank-{} block pointer takes {} offsets, found {}",
            bp.block.len(),
            bp.block.len(),
            offsets.len()
        )));
    }
    let mut moved = bp.clone();
    for (o, t) in moved.offsets.iter_mut().zip(offsets) {
        match int_values(t)?.as_slice() {
            [v] => *o = o.wrapping_add(*v),
            _ => return Err(Fault::malformed("advance's offsets must be scalars")),
        }
    }
    Ok(moved)
}
