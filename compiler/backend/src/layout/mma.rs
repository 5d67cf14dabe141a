//! The `mma.sync` accumulator layout (Triton's NvidiaMma v2) and the warp
//! tiling of a `dot`.
//!
//! One `mma.sync.aligned.m16n8k{8,16}` leaves a 16x8 f32 tile in a warp:
//! lane `l` holds rows `l / 4` and `l / 4 + 8`, columns `2 * (l % 4)` and
//! `2 * (l % 4) + 1`, in four registers `c0..c3` ordered (row, col), (row,
//! col + 1), (row + 8, col), (row + 8, col + 1). The CTA's warps form a
//! `warps_per_cta[0] x warps_per_cta[1]` grid of such tiles (warp id bits
//! along M first); the grid repeats over the tensor, register order
//! (M repetition, N repetition, c0..c3). Each repetition of a warp is thus
//! one 16x8 output tile at `(rep_m * 16 * wm + warp_m * 16, rep_n * 8 * wn +
//! warp_n * 8)`, which is how the `dot` lowering walks it. A *banded* layout
//! instead gives warp column `warp_n` the contiguous band of `n / wn`
//! columns at `warp_n * n / wn`, tile `rep_n` at `rep_n * 8` within it: the
//! accumulator of `wgmma` warpgroups that split N.

use super::ThreadMap;

/// Rows and columns of one `mma.sync` output tile.
pub const TILE_M: u32 = 16;
pub const TILE_N: u32 = 8;

/// Warps along M and N for a `[m, n]` accumulator on `num_warps` warps:
/// split the dimension with more 16x8 tiles left per warp (M on ties), as
/// Triton's `warpsPerTileV2` does, so each warp gets a squarish block and
/// operand fragments are reused across as many `mma`s as possible. Once
/// both dimensions are down to one tile per warp, extra warps go along M
/// and replicate.
pub fn choose_warps(shape: [u32; 2], num_warps: u32) -> [u32; 2] {
    let (mut wm, mut wn) = (1u32, 1u32);
    while wm * wn < num_warps.max(1) {
        let per_m = shape[0] / (TILE_M * wm);
        let per_n = shape[1] / (TILE_N * wn);
        if per_m >= per_n && per_m > 1 {
            wm *= 2;
        } else if per_n > 1 {
            wn *= 2;
        } else {
            wm *= 2;
        }
    }
    [wm, wn]
}

/// The thread map of [`super::Layout::Mma`] on `shape` (rank 2, M >= 16,
/// N >= 8; smaller dimensions wrap and replicate); `banded` as the module
/// documentation says.
pub fn accumulator_map(shape: &[u32], warps_per_cta: &[u32], banded: bool) -> ThreadMap {
    let dim = |d: usize| shape.get(d).copied().unwrap_or(1).max(1);
    let (m, n) = (dim(0), dim(1));
    let unit = |d: usize, amount: u32| {
        let mut v = vec![0u32; 2];
        if amount < [m, n][d] {
            v[d] = amount;
        }
        v
    };
    let wm = warps_per_cta.first().copied().unwrap_or(1).max(1);
    let wn = warps_per_cta.get(1).copied().unwrap_or(1).max(1);
    let lane = vec![unit(1, 2), unit(1, 4), unit(0, 1), unit(0, 2), unit(0, 4)];
    let mut warp = Vec::new();
    for i in 0..wm.trailing_zeros() {
        warp.push(unit(0, TILE_M << i));
    }
    let band = n / wn;
    let banded = banded && band >= TILE_N;
    for j in 0..wn.trailing_zeros() {
        warp.push(unit(1, if banded { band << j } else { TILE_N << j }));
    }
    let (reps_m, reps_n) = ((m / (TILE_M * wm)).max(1), (n / (TILE_N * wn)).max(1));
    let n_step = if banded { TILE_N } else { TILE_N * wn };
    let mut regs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for rm in 0..reps_m {
        for rn in 0..reps_n {
            for (dm, dn) in [(0, 0), (0, 1), (8, 0), (8, 1)] {
                let c = vec![(rm * TILE_M * wm + dm) % m, (rn * n_step + dn) % n];
                if seen.insert(c.clone()) {
                    regs.push(c);
                }
            }
        }
    }
    ThreadMap { shape: shape.to_vec(), regs, lane, warp }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    #[test]
    fn warps_split_the_dimension_with_more_tiles() {
        assert_eq!(choose_warps([128, 128], 8), [2, 4]);
        assert_eq!(choose_warps([128, 128], 4), [2, 2]);
        assert_eq!(choose_warps([64, 256], 4), [1, 4]);
        assert_eq!(choose_warps([16, 16], 4), [2, 2]);
        assert_eq!(choose_warps([16, 64], 4), [1, 4]);
    }

    #[test]
    fn accumulator_map_places_the_four_registers_of_a_tile() {
        let map = Layout::Mma { warps_per_cta: vec![2, 2], banded: false }.thread_map(&[64, 32]);
        assert_eq!(&map.regs[..4], &[vec![0, 0], vec![0, 1], vec![8, 0], vec![8, 1]]);
        // Repetitions: M every 32 rows, N every 16 columns.
        assert_eq!(map.regs[4], vec![0, 16]);
        assert_eq!(map.regs[8], vec![32, 0]);
        assert_eq!(map.regs.len(), 16);
        assert_eq!(map.lane, vec![vec![0, 2], vec![0, 4], vec![1, 0], vec![2, 0], vec![4, 0]]);
        assert_eq!(map.warp, vec![vec![16, 0], vec![0, 8]]);
        assert!(!map.is_replicated());
        // Every element is held exactly once.
        let threads = 32 * 4;
        assert_eq!(map.regs.len() * threads, 64 * 32);
    }

    #[test]
    fn banded_warps_own_contiguous_column_bands() {
        let map = Layout::Mma { warps_per_cta: vec![4, 2], banded: true }.thread_map(&[64, 64]);
        // Warp column 1 starts at column 32; a warp's tiles are 8 apart.
        assert_eq!(map.warp, vec![vec![16, 0], vec![32, 0], vec![0, 32]]);
        assert_eq!(
            &map.regs[..8],
            &[vec![0, 0], vec![0, 1], vec![8, 0], vec![8, 1], vec![0, 8], vec![0, 9], vec![8, 8], vec![8, 9]]
        );
        assert_eq!(map.regs.len() * 256, 64 * 64);
        assert!(!map.is_replicated());
    }

    #[test]
    fn warps_beyond_the_tensor_replicate() {
        let map = Layout::Mma { warps_per_cta: vec![2, 2], banded: false }.thread_map(&[16, 8]);
        assert_eq!(map.warp_broadcast_mask(), 0b11);
        assert_eq!(map.regs.len(), 4);
    }
}
