//! Distributed layouts: which thread of a CTA holds which element of a tensor.
//!
//! Modelled on Triton's TTGIR encodings. A [`Layout::Blocked`] layout tiles a
//! tensor with `size_per_thread` contiguous elements per thread,
//! `threads_per_warp` threads per warp and `warps_per_cta` warps per CTA
//! along each dimension, repeating the CTA tile over larger tensors and
//! replicating elements when the tensor is smaller than the tile. A
//! [`Layout::Slice`] is the layout of a reduction's result: the parent layout
//! with one dimension removed (`expand_dims` of a slice gives the parent back
//! without moving data).
//!
//! Every dimension is a power of two, so a layout is a map from the bits of
//! the lane id, the warp id and the register index to element coordinates: a
//! [`ThreadMap`]. The lowering works on thread maps only: an element's
//! coordinate along dimension `d` is `base_d(lane, warp) + offset_d(register)`,
//! where the base sums one power of two per set lane or warp bit (zero for a
//! bit that only replicates data) and the offset is static.

pub mod assign;
pub mod axis_info;
pub mod mma;
pub mod print;
pub mod shared;
pub mod wgmma;

use std::collections::HashSet;
use std::fmt;

pub use assign::{
    Conversion, ConversionKind, LaidOutKernel, LayoutOptions, MemoryAccess, assign_layouts, assign_layouts_for,
};
pub use axis_info::{AxisInfo, analyze_axis_facts, analyze_axis_info};
pub use print::print_layouts;

/// Lanes per warp on every NVIDIA GPU the backend targets.
pub const WARP_SIZE: u32 = 32;

/// How the elements of a tensor are spread over the threads of a CTA.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Per dimension: contiguous elements per thread, threads per warp, warps
    /// per CTA; `order` lists dimensions from fastest- to slowest-varying
    /// (lanes and warps are numbered along `order[0]` first).
    Blocked { size_per_thread: Vec<u32>, threads_per_warp: Vec<u32>, warps_per_cta: Vec<u32>, order: Vec<u32> },
    /// `parent` with dimension `dim` removed: the layout of a reduction along `dim`.
    Slice { dim: u32, parent: Box<Layout> },
    /// The accumulator of `mma.sync.m16n8k*` (Triton's NvidiaMma v2) on a
    /// rank-2 tensor: `warps_per_cta` = [warps along M, warps along N]; see
    /// [`mma`]. Warps along N hold interleaved 8-column tiles, or with
    /// `banded` one contiguous band of `N / warps_per_cta[1]` columns each
    /// (`wgmma` warpgroups splitting N, see [`wgmma`]).
    Mma { warps_per_cta: Vec<u32>, banded: bool },
}

/// A layout made concrete for one shape. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadMap {
    pub shape: Vec<u32>,
    /// The static coordinate offset of each register of a thread, in register order.
    pub regs: Vec<Vec<u32>>,
    /// Per lane-id bit (5 of them): the coordinate offset a set bit adds.
    pub lane: Vec<Vec<u32>>,
    /// Per warp-id bit: the coordinate offset a set bit adds.
    pub warp: Vec<Vec<u32>>,
}

fn log2(v: u32) -> u32 {
    v.trailing_zeros()
}

impl Layout {
    /// The rank of the tensors this layout distributes.
    pub fn rank(&self) -> usize {
        match self {
            Layout::Blocked { order, .. } => order.len(),
            Layout::Slice { parent, .. } => parent.rank().saturating_sub(1),
            Layout::Mma { .. } => 2,
        }
    }

    /// Triton's default blocked layout for `shape` (every dimension a power
    /// of two) on `num_warps` warps with `vec` contiguous elements per thread
    /// along the fastest (last) dimension: lanes then warps cover the fastest
    /// dimension first, leftovers replicate along the slowest one.
    pub fn default_blocked(shape: &[u32], num_warps: u32, vec: u32) -> Layout {
        let order: Vec<u32> = (0..shape.len() as u32).rev().collect();
        Layout::blocked_in_order(shape, num_warps, vec, &order)
    }

    /// [`Layout::default_blocked`] with dimensions covered in `order`
    /// (fastest first), `vec` contiguous elements per thread along `order[0]`:
    /// the layout of a block-pointer access whose contiguous axis is `order[0]`.
    pub fn blocked_in_order(shape: &[u32], num_warps: u32, vec: u32, order: &[u32]) -> Layout {
        let rank = shape.len();
        let order: Vec<u32> = order.to_vec();
        let mut size_per_thread = vec![1u32; rank];
        if let Some(&fast) = order.first() {
            size_per_thread[fast as usize] = vec.clamp(1, shape[fast as usize].max(1));
        }
        let mut threads_per_warp = vec![1u32; rank];
        let mut warps_per_cta = vec![1u32; rank];
        let (mut remaining_threads, mut remaining_lanes, mut remaining_warps) =
            (WARP_SIZE * num_warps, WARP_SIZE, num_warps);
        let (mut prev_lanes, mut prev_warps) = (1u32, 1u32);
        for &d in order.iter().take(rank.saturating_sub(1)) {
            let d = d as usize;
            let per_cta = remaining_threads.clamp(1, (shape[d] / size_per_thread[d]).max(1));
            threads_per_warp[d] = per_cta.clamp(1, remaining_lanes);
            warps_per_cta[d] = (per_cta / threads_per_warp[d]).clamp(1, remaining_warps);
            remaining_warps /= warps_per_cta[d];
            remaining_lanes /= threads_per_warp[d];
            remaining_threads /= per_cta;
            prev_lanes *= threads_per_warp[d];
            prev_warps *= warps_per_cta[d];
        }
        if let Some(&last) = order.last() {
            threads_per_warp[last as usize] = WARP_SIZE / prev_lanes;
            warps_per_cta[last as usize] = (num_warps / prev_warps).max(1);
        }
        Layout::Blocked { size_per_thread, threads_per_warp, warps_per_cta, order }
    }

    /// The blocked layout with dimensions permuted like `permute`'s result
    /// (result dimension `i` is operand dimension `perm[i]`); `None` for slices.
    pub fn permuted(&self, perm: &[u32]) -> Option<Layout> {
        let Layout::Blocked { size_per_thread, threads_per_warp, warps_per_cta, order } = self else {
            return None;
        };
        if perm.len() != order.len() {
            return None;
        }
        let pick = |v: &[u32]| perm.iter().map(|&p| v.get(p as usize).copied()).collect::<Option<Vec<u32>>>();
        let inverse = |d: u32| perm.iter().position(|&p| p == d).map(|i| i as u32);
        Some(Layout::Blocked {
            size_per_thread: pick(size_per_thread)?,
            threads_per_warp: pick(threads_per_warp)?,
            warps_per_cta: pick(warps_per_cta)?,
            order: order.iter().map(|&d| inverse(d)).collect::<Option<Vec<u32>>>()?,
        })
    }

    /// The blocked layout with a dimension of one element inserted at `axis`
    /// (one per thread, lane and warp, slowest in `order`): the layout of
    /// `expand_dims(x, axis)` whose slice along `axis` is `self` itself, so
    /// `x` needs no conversion; `None` for other layouts or a bad axis.
    pub fn with_unit_dim(&self, axis: u32) -> Option<Layout> {
        let Layout::Blocked { size_per_thread, threads_per_warp, warps_per_cta, order } = self else {
            return None;
        };
        let at = axis as usize;
        if at > order.len() {
            return None;
        }
        let insert = |v: &[u32]| {
            let mut v = v.to_vec();
            v.insert(at, 1);
            v
        };
        let mut order: Vec<u32> = order.iter().map(|&d| if d >= axis { d + 1 } else { d }).collect();
        order.push(axis);
        Some(Layout::Blocked {
            size_per_thread: insert(size_per_thread),
            threads_per_warp: insert(threads_per_warp),
            warps_per_cta: insert(warps_per_cta),
            order,
        })
    }

    /// The dimension along which a thread's registers are contiguous
    /// (`order[0]` of the innermost blocked layout, renumbered through slices).
    pub fn fastest_dim(&self) -> Option<u32> {
        match self {
            Layout::Blocked { order, .. } => order.first().copied(),
            Layout::Slice { dim, parent } => {
                let fast = parent.fastest_dim()?;
                match fast.cmp(dim) {
                    std::cmp::Ordering::Less => Some(fast),
                    std::cmp::Ordering::Equal => None,
                    std::cmp::Ordering::Greater => Some(fast - 1),
                }
            }
            Layout::Mma { .. } => Some(1),
        }
    }

    /// Elements per thread along the fastest dimension.
    pub fn contiguous_per_thread(&self) -> u32 {
        match self {
            Layout::Blocked { size_per_thread, order, .. } => {
                order.first().and_then(|&d| size_per_thread.get(d as usize)).copied().unwrap_or(1)
            }
            Layout::Slice { dim, parent } => {
                if parent.fastest_dim() == Some(*dim) {
                    1
                } else {
                    parent.contiguous_per_thread()
                }
            }
            Layout::Mma { .. } => 2,
        }
    }

    /// This layout made concrete for `shape` (whose rank must be [`Layout::rank`];
    /// every dimension a power of two).
    pub fn thread_map(&self, shape: &[u32]) -> ThreadMap {
        match self {
            Layout::Blocked { size_per_thread, threads_per_warp, warps_per_cta, order } => {
                blocked_map(shape, size_per_thread, threads_per_warp, warps_per_cta, order)
            }
            Layout::Slice { dim, parent } => {
                let dim = (*dim as usize).min(shape.len());
                let mut parent_shape = shape.to_vec();
                parent_shape.insert(dim, 1);
                let map = parent.thread_map(&parent_shape);
                let drop = |v: &Vec<u32>| {
                    let mut v = v.clone();
                    if dim < v.len() {
                        v.remove(dim);
                    }
                    v
                };
                let mut seen = HashSet::new();
                let regs = map.regs.iter().map(drop).filter(|c| seen.insert(c.clone())).collect();
                ThreadMap {
                    shape: shape.to_vec(),
                    regs,
                    lane: map.lane.iter().map(drop).collect(),
                    warp: map.warp.iter().map(drop).collect(),
                }
            }
            Layout::Mma { warps_per_cta, banded } => mma::accumulator_map(shape, warps_per_cta, *banded),
        }
    }
}

fn blocked_map(shape: &[u32], spt: &[u32], tpw: &[u32], wpc: &[u32], order: &[u32]) -> ThreadMap {
    let rank = shape.len();
    let at = |v: &[u32], d: usize| v.get(d).copied().unwrap_or(1).max(1);
    let unit = |d: usize, amount: u32| {
        let mut v = vec![0u32; rank];
        // Offsets past the dimension wrap to zero: those bits replicate data.
        if amount < shape[d] {
            v[d] = amount;
        }
        v
    };
    let mut lane = Vec::new();
    let mut warp = Vec::new();
    for &d in order {
        let d = d as usize;
        if d >= rank {
            continue;
        }
        for k in 0..log2(at(tpw, d)) {
            lane.push(unit(d, at(spt, d) << k));
        }
    }
    for &d in order {
        let d = d as usize;
        if d >= rank {
            continue;
        }
        for k in 0..log2(at(wpc, d)) {
            warp.push(unit(d, (at(spt, d) * at(tpw, d)) << k));
        }
    }
    // Registers: repetitions of the CTA tile outermost, then the elements of
    // the thread's own block, the fastest dimension innermost in both.
    let slow_to_fast: Vec<usize> = order.iter().rev().map(|&d| d as usize).filter(|&d| d < rank).collect();
    let tile = |d: usize| at(spt, d) * at(tpw, d) * at(wpc, d);
    let reps = |d: usize| (shape[d] / tile(d)).max(1);
    let mut rep_offsets: Vec<Vec<u32>> = vec![vec![0; rank]];
    for &d in &slow_to_fast {
        rep_offsets = rep_offsets
            .into_iter()
            .flat_map(|c| {
                (0..reps(d)).map(move |r| {
                    let mut c = c.clone();
                    c[d] = r * tile(d);
                    c
                })
            })
            .collect();
    }
    let mut elem_offsets: Vec<Vec<u32>> = vec![vec![0; rank]];
    for &d in &slow_to_fast {
        elem_offsets = elem_offsets
            .into_iter()
            .flat_map(|c| {
                (0..at(spt, d)).map(move |e| {
                    let mut c = c.clone();
                    c[d] = e % shape[d].max(1);
                    c
                })
            })
            .collect();
    }
    let mut seen = HashSet::new();
    let mut regs = Vec::new();
    for r in &rep_offsets {
        for e in &elem_offsets {
            let c: Vec<u32> = r.iter().zip(e).map(|(a, b)| a + b).collect();
            if seen.insert(c.clone()) {
                regs.push(c);
            }
        }
    }
    ThreadMap { shape: shape.to_vec(), regs, lane, warp }
}

impl ThreadMap {
    /// Lane-id bits that only replicate data (threads differing in them hold the same elements).
    pub fn lane_broadcast_mask(&self) -> u32 {
        mask_of_zero_bits(&self.lane)
    }

    /// Warp-id bits that only replicate data.
    pub fn warp_broadcast_mask(&self) -> u32 {
        mask_of_zero_bits(&self.warp)
    }

    /// Whether some elements are held by more than one thread.
    pub fn is_replicated(&self) -> bool {
        self.lane_broadcast_mask() != 0 || self.warp_broadcast_mask() != 0
    }

    /// The register holding the element at static offset `c`, if any.
    pub fn reg_index(&self, c: &[u32]) -> Option<usize> {
        self.regs.iter().position(|r| r == c)
    }

    /// Same elements in the same threads (registers possibly in another order).
    pub fn same_distribution(&self, other: &ThreadMap) -> bool {
        let set = |m: &ThreadMap| m.regs.iter().cloned().collect::<HashSet<_>>();
        self.shape == other.shape && self.lane == other.lane && self.warp == other.warp && set(self) == set(other)
    }

    /// For each register of `self`, the register of `from` holding the element
    /// `project` maps it to, provided every lane and warp bit moves both maps
    /// the same way; `None` when the data would have to move between threads.
    pub fn remap_from(&self, from: &ThreadMap, project: &dyn Fn(&[u32]) -> Vec<u32>) -> Option<Vec<usize>> {
        let bits_agree = |mine: &[Vec<u32>], theirs: &[Vec<u32>]| {
            mine.len() == theirs.len() && mine.iter().zip(theirs).all(|(m, t)| project(m) == *t)
        };
        if !bits_agree(&self.lane, &from.lane) || !bits_agree(&self.warp, &from.warp) {
            return None;
        }
        self.regs.iter().map(|c| from.reg_index(&project(c))).collect()
    }
}

fn mask_of_zero_bits(bits: &[Vec<u32>]) -> u32 {
    bits.iter().enumerate().filter(|(_, c)| c.iter().all(|&x| x == 0)).fold(0, |m, (i, _)| m | (1 << i))
}

fn list(v: &[u32]) -> String {
    let items: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// `#blocked<spt = [4], tpw = [32], wpc = [4], order = [0]>`, `#slice<dim = 1, #blocked<...>>`.
impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::Blocked { size_per_thread, threads_per_warp, warps_per_cta, order } => write!(
                f,
                "#blocked<spt = {}, tpw = {}, wpc = {}, order = {}>",
                list(size_per_thread),
                list(threads_per_warp),
                list(warps_per_cta),
                list(order)
            ),
            Layout::Slice { dim, parent } => write!(f, "#slice<dim = {dim}, {parent}>"),
            Layout::Mma { warps_per_cta, banded } => {
                write!(f, "#mma<v2, wpc = {}{}>", list(warps_per_cta), if *banded { ", banded" } else { "" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(spt: &[u32], tpw: &[u32], wpc: &[u32], order: &[u32]) -> Layout {
        Layout::Blocked {
            size_per_thread: spt.to_vec(),
            threads_per_warp: tpw.to_vec(),
            warps_per_cta: wpc.to_vec(),
            order: order.to_vec(),
        }
    }

    #[test]
    fn default_layout_covers_the_fastest_dimension_first() {
        assert_eq!(Layout::default_blocked(&[1024], 4, 4), blocked(&[4], &[32], &[4], &[0]));
        assert_eq!(Layout::default_blocked(&[4, 256], 4, 4), blocked(&[1, 4], &[1, 32], &[2, 2], &[1, 0]));
        // Too small a tensor: the leftover warps replicate along the slowest dimension.
        assert_eq!(Layout::default_blocked(&[16, 8], 4, 1), blocked(&[1, 1], &[4, 8], &[4, 1], &[1, 0]));
    }

    #[test]
    fn blocked_map_repeats_the_tile_and_keeps_vectors_contiguous() {
        let map = blocked(&[4], &[32], &[4], &[0]).thread_map(&[1024]);
        let regs: Vec<u32> = map.regs.iter().map(|c| c[0]).collect();
        assert_eq!(regs, vec![0, 1, 2, 3, 512, 513, 514, 515]);
        assert_eq!(map.lane, vec![vec![4], vec![8], vec![16], vec![32], vec![64]]);
        assert_eq!(map.warp, vec![vec![128], vec![256]]);
        assert!(!map.is_replicated());
    }

    #[test]
    fn small_tensors_replicate_across_lanes_and_warps() {
        let map = blocked(&[4], &[32], &[4], &[0]).thread_map(&[64]);
        assert_eq!(map.regs, vec![vec![0], vec![1], vec![2], vec![3]]);
        assert_eq!(map.lane_broadcast_mask(), 0b10000);
        assert_eq!(map.warp_broadcast_mask(), 0b11);
        // More elements per thread than the dimension holds: duplicates are dropped.
        let map = blocked(&[8], &[32], &[1], &[0]).thread_map(&[2]);
        assert_eq!(map.regs, vec![vec![0], vec![1]]);
        assert_eq!(map.lane_broadcast_mask(), 0b11111);
    }

    #[test]
    fn slice_drops_the_reduced_dimension() {
        let parent = blocked(&[1, 4], &[1, 32], &[2, 2], &[1, 0]);
        let slice = Layout::Slice { dim: 1, parent: Box::new(parent.clone()) };
        let map = slice.thread_map(&[4]);
        assert_eq!(map.regs, vec![vec![0], vec![2]]);
        assert!(map.lane.iter().all(|c| c == &vec![0]), "{map:?}");
        assert_eq!(map.warp, vec![vec![0], vec![1]]);
        // expand_dims of the slice reads the parent's map without moving data.
        let expanded = parent.thread_map(&[4, 1]);
        let remap = expanded.remap_from(&map, &|c: &[u32]| vec![c[0]]);
        assert_eq!(remap, Some(vec![0, 1]));
        assert_eq!(slice.rank(), 1);
        assert_eq!(slice.fastest_dim(), None);
    }

    #[test]
    fn permuting_a_blocked_layout_relabels_dimensions() {
        let layout = blocked(&[1, 4], &[2, 16], &[4, 1], &[1, 0]);
        let permuted = layout.permuted(&[1, 0]).expect("blocked layouts permute");
        assert_eq!(permuted, blocked(&[4, 1], &[16, 2], &[1, 4], &[0, 1]));
        let before = layout.thread_map(&[8, 64]);
        let after = permuted.thread_map(&[64, 8]);
        let remap = after.remap_from(&before, &|c: &[u32]| vec![c[1], c[0]]);
        assert!(remap.is_some());
    }

    #[test]
    fn display_spells_every_field() {
        let slice = Layout::Slice { dim: 0, parent: Box::new(blocked(&[1], &[32], &[4], &[0])) };
        assert_eq!(slice.to_string(), "#slice<dim = 0, #blocked<spt = [1], tpw = [32], wpc = [4], order = [0]>>");
    }
}
