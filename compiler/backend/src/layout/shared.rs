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

/// Where a layout conversion through shared memory puts a tensor: row-major,
/// each innermost row followed by 16 bytes of padding when rows are a
/// multiple of 32 bytes. Without it, the rows of such a tensor start on the
/// same bank, so a writer whose lanes span rows (an `mma` accumulator: eight
/// rows of four lanes per register) stores eight-way conflicted; with it,
/// consecutive rows start an odd number of 16-byte chunks apart, so eight
/// rows cover all 32 banks, and rows stay 16-byte aligned for vector reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeBuffer {
    /// Element strides of the tensor's dimensions.
    pub strides: Vec<u32>,
    /// Elements the buffer spans (padding included).
    pub elems: u64,
}

impl ExchangeBuffer {
    /// Plain row-major placement of `shape` (a reshape's reader sees another
    /// shape over the same row-major order, so it cannot be padded).
    pub fn row_major(shape: &[u32]) -> ExchangeBuffer {
        let mut strides = vec![1u32; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        let elems = shape.iter().map(|&d| u64::from(d)).product::<u64>().max(1);
        ExchangeBuffer { strides, elems }
    }

    /// The padded placement of a `shape` tensor of `bytes`-byte elements
    /// (row-major where padding would not help: one row, rank 1, or rows
    /// that are not a multiple of 32 bytes).
    pub fn padded(shape: &[u32], bytes: u32) -> ExchangeBuffer {
        let plain = Self::row_major(shape);
        let (Some(&cols), true) = (shape.last(), shape.len() >= 2) else { return plain };
        let rows: u64 = shape[..shape.len() - 1].iter().map(|&d| u64::from(d)).product();
        let row_bytes = cols * bytes.max(1);
        if rows <= 1 || bytes == 0 || 16 % bytes != 0 || !row_bytes.is_multiple_of(32) {
            return plain;
        }
        let mut strides = vec![1u32; shape.len()];
        strides[shape.len() - 2] = cols + 16 / bytes;
        for d in (0..shape.len() - 2).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        let elems = u64::from(strides[0]) * u64::from(shape[0]);
        ExchangeBuffer { strides, elems }
    }

    /// Shared-memory wavefronts of the worst single access (one register of
    /// every lane of one warp) when `map` writes or reads this buffer:
    /// 4-byte words sharing a bank cost one wavefront each (1 is conflict-free).
    pub fn worst_wavefronts(&self, map: &ThreadMap, bytes: u32) -> u32 {
        let mut worst = 1;
        for reg in &map.regs {
            let mut words: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); 32];
            for lane in 0..32u32 {
                let mut coord = reg.clone();
                for (bit, contribution) in map.lane.iter().enumerate() {
                    if lane >> bit & 1 == 1 {
                        for (c, &amount) in coord.iter_mut().zip(contribution) {
                            *c += amount;
                        }
                    }
                }
                let elem: u64 = coord.iter().zip(&self.strides).map(|(&c, &s)| u64::from(c) * u64::from(s)).sum();
                let word = elem * u64::from(bytes) / 4;
                words[(word % 32) as usize].insert(word);
            }
            worst = worst.max(words.iter().map(|w| w.len() as u32).max().unwrap_or(1));
        }
        worst
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

    /// A wgmma accumulator (64 x 128, two warpgroups splitting N) written
    /// for the blocked layout a coalesced store reads: every register's
    /// store hits eight rows of one bank group unpadded, none padded; the
    /// 16-byte reads of the blocked layout stay at the minimum.
    #[test]
    fn padded_exchange_rows_spread_over_the_banks() {
        use crate::layout::Layout;
        let shape = [64u32, 128];
        let acc = Layout::Mma { warps_per_cta: vec![4, 2], banded: true }.thread_map(&shape);
        let plain = ExchangeBuffer::row_major(&shape);
        let padded = ExchangeBuffer::padded(&shape, 2);
        assert_eq!(padded.strides, vec![136, 1]);
        assert_eq!(padded.elems, 64 * 136);
        assert_eq!(plain.worst_wavefronts(&acc, 2), 8);
        assert_eq!(padded.worst_wavefronts(&acc, 2), 1);
        // f32 (the fold's and the final state's conversions) and narrower rows.
        let acc = Layout::Mma { warps_per_cta: vec![8, 1], banded: false }.thread_map(&[128, 128]);
        assert_eq!(
            ExchangeBuffer::padded(&[128, 128], 4).worst_wavefronts(&acc, 4),
            2,
            "8-byte pairs: two words a lane"
        );
        assert!(ExchangeBuffer::row_major(&[128, 128]).worst_wavefronts(&acc, 4) >= 8);
        let acc = Layout::Mma { warps_per_cta: vec![4, 1], banded: false }.thread_map(&[64, 32]);
        assert_eq!(ExchangeBuffer::padded(&[64, 32], 2).worst_wavefronts(&acc, 2), 1);
        assert_eq!(ExchangeBuffer::row_major(&[64, 32]).worst_wavefronts(&acc, 2), 4);
        // Rows that are an odd number of 16-byte chunks, one row, rank 1: as is.
        assert_eq!(ExchangeBuffer::padded(&[64, 8], 2), ExchangeBuffer::row_major(&[64, 8]));
        assert_eq!(ExchangeBuffer::padded(&[1, 128], 2), ExchangeBuffer::row_major(&[1, 128]));
        assert_eq!(ExchangeBuffer::padded(&[256], 4), ExchangeBuffer::row_major(&[256]));
        // Rank 3: the padded row stride scales the outer dimension.
        let p = ExchangeBuffer::padded(&[2, 4, 64], 2);
        assert_eq!(p.strides, vec![4 * 72, 72, 1]);
        assert_eq!(p.elems, 2 * 4 * 72);
    }
}
