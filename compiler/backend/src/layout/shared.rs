//! Swizzled shared-memory tiles: where the elements of a 2-D operand live in
//! shared memory, so that `ldmatrix` reads them without bank conflicts.
//!
//! A tile stores `rows` rows of `cols` contiguous elements (the contiguous
//! axis is the one the data arrives contiguous in: the register layout's
//! fastest dimension, or the global-memory `order[0]` for `cp.async`). A row
//! is cut into 16-byte chunks of `vec` elements; chunk `c` of row `r` is
//! stored at chunk position `c ^ phase(r)` with
//! `phase(r) = (r / per_phase) % max_phase` (Triton's swizzled shared
//! encoding for mma v2 operands):
//!
//! * `vec = 16 / element bytes`: one chunk is what one `ldmatrix` lane
//!   address reads (one 8x8 b16 matrix row) and what one `cp.async` moves;
//! * `per_phase = max(1, 128 / row bytes)`: rows sharing a phase fill one
//!   128-byte line (all 32 banks) together;
//! * `max_phase = min(8 / per_phase, chunks per row)`: 8 consecutive rows
//!   read by one 8x8 matrix then land on 8 distinct 16-byte bank groups.
//!
//! Chunks never straddle the swizzle, so a thread's `vec`-aligned run of
//! contiguous elements stays one vector access.
//!
//! Hopper's `wgmma` reads its operands through matrix descriptors instead,
//! which only describe rows of 32, 64 or 128 bytes (the swizzle modes).
//! [`SharedTile::wgmma_panels`] therefore cuts a row into *panels* of the
//! widest of these that divides it, stored one after the other (each `rows`
//! rows of `P` bytes, 16-byte chunk `c` of row `r` at
//! `c ^ ((r / (128 / P)) % (P / 16))`, which for `P = 128` is `c ^ (r % 8)`):
//! the same placement [`SharedTile::swizzled`] gives a tile `P` bytes wide,
//! so `ldmatrix` readers share it; see [`super::wgmma`] for why this is the
//! canonical layout the descriptors name.

use super::ThreadMap;

/// The placement of a `rows x cols` tile in shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedTile {
    pub rows: u32,
    pub cols: u32,
    /// Bytes per element.
    pub bytes: u32,
    /// Elements per 16-byte chunk (capped by `cols`).
    pub vec: u32,
    pub per_phase: u32,
    pub max_phase: u32,
    /// Columns per panel: the tile is `cols / panel` panels of `rows x panel`
    /// elements stored one after another (`panel == cols` for one panel).
    pub panel: u32,
}

impl SharedTile {
    /// The swizzled placement for `rows x cols` elements of `bytes` bytes
    /// (powers of two).
    pub fn swizzled(rows: u32, cols: u32, bytes: u32) -> SharedTile {
        let bytes = bytes.max(1);
        let vec = (16 / bytes).clamp(1, cols.max(1));
        let row_bytes = cols.max(1) * bytes;
        let per_phase = (128 / row_bytes).max(1);
        let chunks = (cols / vec).max(1);
        let max_phase = (8 / per_phase).clamp(1, chunks);
        SharedTile { rows, cols, bytes, vec, per_phase, max_phase, panel: cols.max(1) }
    }

    /// The placement `wgmma` reads through swizzled descriptors: panels of
    /// `P`-byte rows, `P` the widest of 128, 64 and 32 that divides a row,
    /// chunk `c` of row `r` at `c ^ ((r / (128 / P)) % (P / 16))`. `None`
    /// when a row is not a whole number of 32-byte panels or `rows` not a
    /// whole number of 8-row swizzle atoms.
    pub fn wgmma_panels(rows: u32, cols: u32, bytes: u32) -> Option<SharedTile> {
        if !matches!(bytes, 1 | 2 | 4) || rows == 0 || !rows.is_multiple_of(8) || cols == 0 {
            return None;
        }
        let row_bytes = cols * bytes;
        let panel_bytes = [128, 64, 32].into_iter().find(|&p| row_bytes.is_multiple_of(p))?;
        Some(SharedTile {
            rows,
            cols,
            bytes,
            vec: 16 / bytes,
            per_phase: 128 / panel_bytes,
            max_phase: panel_bytes / 16,
            panel: panel_bytes / bytes,
        })
    }

    /// Bytes of one row of a panel.
    pub fn panel_bytes(&self) -> u32 {
        self.panel * self.bytes
    }

    /// Bytes the tile occupies.
    pub fn size_bytes(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols) * u64::from(self.bytes)
    }

    /// The element offset of (row, col) from the tile's start.
    pub fn offset(&self, row: u32, col: u32) -> u32 {
        let (panel, col) = (col / self.panel, col % self.panel);
        let phase = (row / self.per_phase) % self.max_phase;
        panel * self.rows * self.panel + row * self.panel + (((col / self.vec) ^ phase) * self.vec) + col % self.vec
    }

    /// For a tile filled from `map` (its dimension `contiguous` stored as
    /// the tile's columns): the element distance from register `from`'s
    /// slot to register `to`'s when it is the same in every thread, so one
    /// thread address serves both (a register's offset is then a constant).
    pub fn constant_delta(&self, map: &ThreadMap, contiguous: usize, from: usize, to: usize) -> Option<i64> {
        let (Some(a), Some(b)) = (map.regs.get(from), map.regs.get(to)) else { return None };
        let warps = 1u32 << map.warp.len();
        let mut delta = None;
        for thread in 0..32 * warps {
            let (lane, warp) = (thread % 32, thread / 32);
            let mut base = vec![0u32; map.shape.len()];
            for (bits, id) in [(&map.lane, lane), (&map.warp, warp)] {
                for (i, contribution) in bits.iter().enumerate() {
                    if id >> i & 1 == 1 {
                        for (d, &amount) in contribution.iter().enumerate() {
                            base[d] |= amount;
                        }
                    }
                }
            }
            let slot = |reg: &[u32]| -> Option<i64> {
                let c: Vec<u32> = base.iter().zip(reg).map(|(b, r)| b + r).collect();
                let (row, col) = if contiguous == 1 { (*c.first()?, *c.get(1)?) } else { (*c.get(1)?, *c.first()?) };
                (row < self.rows && col < self.cols).then(|| i64::from(self.offset(row, col)))
            };
            let d = slot(b)? - slot(a)?;
            if *delta.get_or_insert(d) != d {
                return None;
            }
        }
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The 16-byte bank groups (of 8 per 128-byte line) that the rows of one
    /// 8x8 `ldmatrix` matrix at chunk `chunk` read.
    fn bank_groups(tile: &SharedTile, first_row: u32, chunk: u32) -> HashSet<u32> {
        (first_row..first_row + 8).map(|r| (tile.offset(r, chunk * tile.vec) * tile.bytes / 16) % 8).collect()
    }

    #[test]
    fn parameters_follow_the_row_width() {
        let t = SharedTile::swizzled(128, 64, 2);
        assert_eq!((t.vec, t.per_phase, t.max_phase), (8, 1, 8));
        let t = SharedTile::swizzled(128, 32, 2);
        assert_eq!((t.vec, t.per_phase, t.max_phase), (8, 2, 4));
        let t = SharedTile::swizzled(64, 16, 4);
        assert_eq!((t.vec, t.per_phase, t.max_phase), (4, 2, 4));
        assert_eq!(t.size_bytes(), 64 * 16 * 4);
    }

    /// A thread's later copies into a 128-byte-swizzle tile are a constant
    /// distance from its first when they are whole swizzle periods (8 rows)
    /// away; a 4-row step changes the phase, so no constant.
    #[test]
    fn constant_deltas_follow_the_swizzle_period() {
        use crate::layout::Layout;
        // 64 x 64 bf16 on one warp, 8 elements per thread: 4 rows per warp
        // step, so a thread's vectors sit 4, 8, 12, ... rows below its first.
        let layout = Layout::blocked_in_order(&[64, 64], 1, 8, &[1, 0]);
        let map = layout.thread_map(&[64, 64]);
        let tile = SharedTile::wgmma_panels(64, 64, 2).expect("one panel");
        let first = map.regs[0].clone();
        let (mut constant, mut varying) = (0, 0);
        for (i, reg) in map.regs.iter().enumerate().step_by(8) {
            assert_eq!(reg[1], first[1]);
            let rows = reg[0] - first[0];
            match tile.constant_delta(&map, 1, 0, i) {
                Some(delta) => {
                    assert_eq!(rows % 8, 0, "register {i}");
                    assert_eq!(delta, i64::from(rows) * 64);
                    constant += 1;
                }
                None => {
                    assert_eq!(rows % 8, 4, "register {i}");
                    varying += 1;
                }
            }
        }
        assert!(constant > 1 && varying > 0, "{constant} {varying}");
    }

    #[test]
    fn every_element_gets_its_own_slot() {
        for (rows, cols, bytes) in [(64, 64, 2), (32, 32, 2), (16, 8, 4), (64, 16, 2)] {
            let t = SharedTile::swizzled(rows, cols, bytes);
            let slots: HashSet<u32> = (0..rows).flat_map(|r| (0..cols).map(move |c| t.offset(r, c))).collect();
            assert_eq!(slots.len() as u32, rows * cols);
            assert!(slots.iter().all(|&s| s < rows * cols));
        }
    }

    #[test]
    fn one_panel_tiles_keep_the_row_major_swizzle() {
        let t = SharedTile::swizzled(64, 256, 2);
        assert_eq!(t.panel, 256);
        // Row 3, column 70: chunk 8 ^ 3 = 11 of row 3.
        assert_eq!(t.offset(3, 70), 3 * 256 + 11 * 8 + 6);
    }

    #[test]
    fn wgmma_tiles_are_panels_of_128_byte_rows() {
        let t = SharedTile::wgmma_panels(64, 256, 2).expect("a whole number of panels");
        assert_eq!((t.vec, t.per_phase, t.max_phase, t.panel), (8, 1, 8, 64));
        // Column 70 is panel 1, column 6 (chunk 0 ^ 3 = 3) of row 3.
        assert_eq!(t.offset(3, 70), 64 * 64 + 3 * 64 + 3 * 8 + 6);
        // One 64-column panel is exactly the classic 128-byte-row tile.
        let one = SharedTile::wgmma_panels(128, 64, 2).expect("one panel");
        let classic = SharedTile::swizzled(128, 64, 2);
        for (r, c) in [(0, 0), (5, 17), (127, 63), (9, 40)] {
            assert_eq!(one.offset(r, c), classic.offset(r, c));
        }
        let slots: HashSet<u32> = (0..64).flat_map(|r| (0..256).map(move |c| t.offset(r, c))).collect();
        assert_eq!(slots.len(), 64 * 256);
        assert!(slots.iter().all(|&s| s < 64 * 256));
        assert_eq!(SharedTile::wgmma_panels(64, 8, 2), None);
        assert_eq!(SharedTile::wgmma_panels(12, 64, 2), None);
    }

    /// Rows of 96, 64 and 32 bytes get 32- and 64-byte panels, placed as
    /// `swizzled` places a tile one panel wide (so `ldmatrix` readers of a
    /// pipeline buffer and `wgmma` agree on it).
    #[test]
    fn narrow_rows_get_narrow_panels() {
        for (cols, panel_bytes) in [(48, 32), (32, 64), (16, 32), (96, 64), (64, 128)] {
            let t = SharedTile::wgmma_panels(64, cols, 2).expect("whole 32-byte panels");
            assert_eq!(t.panel_bytes(), panel_bytes, "{cols} columns");
            let one = SharedTile::swizzled(64, t.panel, 2);
            for r in 0..64 {
                for c in 0..t.panel {
                    assert_eq!(t.offset(r, c), one.offset(r, c), "{cols} columns, ({r}, {c})");
                }
            }
            let slots: HashSet<u32> = (0..64).flat_map(|r| (0..cols).map(move |c| t.offset(r, c))).collect();
            assert_eq!(slots.len() as u32, 64 * cols);
        }
        // 64-byte rows: chunk c of row r at c ^ ((r / 2) % 4).
        let t = SharedTile::wgmma_panels(16, 32, 2).expect("one panel");
        assert_eq!(t.offset(6, 9), 6 * 32 + (1 ^ 3) * 8 + 1);
    }

    #[test]
    fn ldmatrix_rows_hit_distinct_banks() {
        for (cols, bytes) in [(64, 2), (32, 2), (128, 2), (32, 4)] {
            let t = SharedTile::swizzled(64, cols, bytes);
            for chunk in 0..cols / t.vec {
                assert_eq!(bank_groups(&t, 8, chunk).len(), 8, "cols {cols}, bytes {bytes}, chunk {chunk}");
            }
        }
        // Without the swizzle all eight rows of a 128-byte-wide tile hit one group.
        let plain = SharedTile { max_phase: 1, ..SharedTile::swizzled(64, 64, 2) };
        assert_eq!(bank_groups(&plain, 0, 3).len(), 1);
    }
}
