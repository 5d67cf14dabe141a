//! Hopper `wgmma.mma_async` (sm_90a): the shared-memory matrix descriptors
//! of its operands and the warp tiling under which its accumulator is our
//! [`super::Layout::Mma`] layout.
//!
//! # Operands: swizzled canonical layouts
//!
//! `wgmma` reads A and B from shared memory through 64-bit matrix
//! descriptors (PTX ISA, "Matrix Descriptor Format"): bits 0-13 the start
//! address, 16-29 the leading dimension byte offset (LBO), 32-45 the stride
//! dimension byte offset (SBO), each as `(bytes & 0x3FFFF) >> 4`; bits
//! 49-51 the base offset; bits 62-63 the swizzle mode (1, 2, 3 = 128, 64,
//! 32 bytes).
//!
//! With the `P`-byte swizzle (`P` = 128, 64 or 32), memory is made of
//! 8-row atoms of `P`-byte rows (`8P` bytes), and the hardware swizzles
//! *absolute* addresses: byte address bits 4.. (the 16-byte chunk, `P / 16`
//! of them in a row) are XORed with the same number of bits from bit 7 on.
//! A tile whose base is 1024-byte aligned, stored as
//! [`SharedTile::wgmma_panels`] panels of `P`-byte rows (chunk `c` of row
//! `r` at `c ^ ((r / (128 / P)) % (P / 16))`, for `P = 128` `c ^ (r % 8)`),
//! is therefore exactly what the descriptor names, for both majors
//! (canonical layouts in units of `T` = 16 bytes, as CUTLASS's
//! `make_gmma_desc` spells them, with `p = P / 16` chunks a row):
//!
//! * **K-major** (`imm-trans` 0; A of `dot(a, b)` stored K-contiguous):
//!   `((8, m), (T, 2)) : ((pT, SBO), (1, T))`. Tile rows are M (or N),
//!   columns K. The 8 rows of an atom are `P` bytes apart, atoms along M
//!   `SBO` = `8P` bytes apart; the 16 K of one instruction are two chunks of
//!   one row. LBO is unused for swizzled K-major layouts (we set 16 bytes, as
//!   CUTLASS does). Stepping K by 16 within a panel adds 32 bytes to the
//!   start address, which the absolute-address swizzle handles; the next
//!   panel starts `rows * P` bytes on.
//! * **MN-major** (`imm-trans` 1; B of `dot(a, b)` with B `[K, N]`
//!   row-major): `((T, p, m), (8, k)) : ((1, T, LBO), (pT, SBO))`. Tile rows
//!   are K, columns N cut into `P`-byte panels: `P` bytes of N contiguous per
//!   row, the 8 K rows of an atom `P` bytes apart, the next 8 K `SBO` = `8P`
//!   bytes on, the next panel of N `LBO` = `rows * P` bytes on. Stepping K
//!   by 16 adds `16 * P` bytes to the start address.
//!
//! [`OperandTile::hardware_offset`] models the hardware's address
//! computation from these definitions; the tests check it against
//! [`SharedTile::offset`], the placement `cp.async` writes.
//!
//! # Ordering
//!
//! `wgmma` reads shared memory through the *async proxy*, while `cp.async`
//! and `st.shared` write it through the generic proxy. Each thread that
//! wrote a tile must therefore execute `fence.proxy.async.shared::cta`
//! after its writes are complete (after `cp.async.wait_group`) and before
//! the barrier that precedes the `wgmma`s; then `wgmma.fence.sync.aligned`,
//! the `wgmma.mma_async`s, `wgmma.commit_group.sync.aligned`, and
//! `wgmma.wait_group.sync.aligned N` before the accumulator registers are
//! read or the buffer is refilled (N = 0 unless the next refill is far
//! enough ahead).
//!
//! # Accumulator
//!
//! `wgmma.m64nNk16` leaves a 64xN f32 tile in a warpgroup (4 warps): thread
//! `t` of the warpgroup holds rows `(t / 32) * 16 + (t % 32) / 4 + {0, 8}`,
//! columns `8 * j + 2 * (t % 4) + {0, 1}`, as registers `d[4j..4j + 4]` in
//! the order (row, col), (row, col + 1), (row + 8, col), (row + 8, col + 1).
//! That is, warp `w` of the warpgroup holds the 16-row band `16 * w` as N / 8
//! `mma.sync` 16x8 tiles in a row, register order (N tile, c0..c3): the
//! [`super::Layout::Mma`] layout with each warpgroup's warps along M. With
//! `gm` warpgroups along M and `gn` along N ([`AccumulatorTiling`]),
//! `warps_per_cta = [4 * gm, gn]`: warpgroup `g` owns rows `64 * (g % gm)..`
//! and, when `gn > 1`, the *band* of `N / gn` columns at `(g / gm) * N / gn`
//! (a banded `Mma` layout: one instruction of N / gn per warpgroup, its B
//! descriptor starting at the band). Repetitions along M (M larger than
//! `64 * gm`) are further `wgmma`s of the same warpgroup at `M + 64 * gm *
//! rep`, in register order (M rep, N tile, c0..c3), as the `Mma` layout
//! orders them. [`accumulator_tiling`] says when this applies: splitting N
//! lets 8 warps run a 64-row accumulator (one block of 64 tokens) on
//! `wgmma`.

use super::{Layout, shared::SharedTile};

/// Rows of one `wgmma` accumulator per warpgroup.
pub const WGMMA_M: u32 = 64;
/// K of one `wgmma` with 16-bit inputs.
pub const WGMMA_K: u32 = 16;
/// The largest N of one `wgmma`.
pub const WGMMA_MAX_N: u32 = 256;
/// Bytes of the largest swizzle atom (8 rows of 128 bytes): `wgmma` tiles
/// start on this alignment, which every swizzle mode's atom divides.
pub const WGMMA_TILE_ALIGN: u32 = 1024;

/// The descriptor's swizzle mode (bits 62-63).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swizzle {
    None = 0,
    B128 = 1,
    B64 = 2,
    B32 = 3,
}

/// A `wgmma` shared-memory matrix descriptor without its start address
/// (which is only known at run time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixDescriptor {
    pub leading_byte_offset: u32,
    pub stride_byte_offset: u32,
    /// Bits 49-51: the pattern's phase when the start is not atom-aligned (0 here).
    pub base_offset: u8,
    pub swizzle: Swizzle,
}

/// `matrix-descriptor-encode(x) = (x & 0x3FFFF) >> 4`, 14 bits.
pub fn encode_field(bytes: u32) -> u64 {
    u64::from((bytes & 0x3FFFF) >> 4)
}

impl MatrixDescriptor {
    /// The descriptor bits other than the start address: the lowering ORs
    /// `encode_field(address)` into these at run time.
    pub fn fixed_bits(&self) -> u64 {
        (encode_field(self.leading_byte_offset) << 16)
            | (encode_field(self.stride_byte_offset) << 32)
            | (u64::from(self.base_offset & 7) << 49)
            | ((self.swizzle as u64) << 62)
    }

    /// The whole descriptor for a start address of `start` bytes.
    pub fn encode(&self, start: u32) -> u64 {
        self.fixed_bits() | encode_field(start)
    }
}

/// Which dimension of a `wgmma` operand is contiguous in shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Major {
    /// K contiguous: `imm-trans` 0.
    K,
    /// M (for A) or N (for B) contiguous: `imm-trans` 1.
    Mn,
}

impl Major {
    /// The instruction's `imm-trans-a` / `imm-trans-b` operand.
    pub fn trans_bit(self) -> u32 {
        match self {
            Major::K => 0,
            Major::Mn => 1,
        }
    }
}

/// One operand tile in shared memory as `wgmma` sees it: `tile.rows` rows of
/// the non-contiguous dimension, `tile.cols` of the contiguous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperandTile {
    pub tile: SharedTile,
    pub major: Major,
}

impl OperandTile {
    /// The operand tile for `tile` (which must be a
    /// [`SharedTile::wgmma_panels`] placement); `None` otherwise.
    pub fn new(tile: SharedTile, major: Major) -> Option<OperandTile> {
        let panels = SharedTile::wgmma_panels(tile.rows, tile.cols, tile.bytes)?;
        (panels == tile).then_some(OperandTile { tile, major })
    }

    /// Bytes of one panel row: the swizzle width `P`.
    fn row_bytes(&self) -> u32 {
        self.tile.panel_bytes()
    }

    /// The descriptor fields (start address aside).
    pub fn descriptor(&self) -> MatrixDescriptor {
        let p = self.row_bytes();
        let leading_byte_offset = match self.major {
            Major::K => 16,
            Major::Mn => self.tile.rows * p,
        };
        let swizzle = match p {
            128 => Swizzle::B128,
            64 => Swizzle::B64,
            _ => Swizzle::B32,
        };
        MatrixDescriptor { leading_byte_offset, stride_byte_offset: 8 * p, base_offset: 0, swizzle }
    }

    /// Bytes from the tile's start to the descriptor start of the
    /// instruction reading `extent` M/N elements from `mn0` and K from `k0`;
    /// `None` when the instruction would not start on a row of an atom
    /// (K-major: `mn0 % 8`), or (MN-major) on a 16-byte chunk of a panel row
    /// with its `extent` inside that panel unless it starts the panel, or K
    /// is not a multiple of 16. (The hardware swizzles absolute addresses,
    /// so a start inside a row reads the chunks `cp.async` placed there,
    /// as K steps inside a K-major row do.)
    pub fn start_offset(&self, mn0: u32, extent: u32, k0: u32) -> Option<u32> {
        let (t, p) = (&self.tile, self.row_bytes());
        if !k0.is_multiple_of(WGMMA_K) {
            return None;
        }
        match self.major {
            Major::K => mn0.is_multiple_of(8).then(|| (k0 / t.panel) * t.rows * p + mn0 * p + (k0 % t.panel) * t.bytes),
            Major::Mn => {
                let within = mn0 % t.panel;
                let chunk = 16 / t.bytes;
                let fits = within == 0 || (within.is_multiple_of(chunk) && within + extent <= t.panel);
                fits.then(|| (mn0 / t.panel) * t.rows * p + within * t.bytes + k0 * p)
            }
        }
    }

    /// The byte offset from the tile's start at which the hardware reads
    /// operand element (`mn`, `k`) relative to the instruction start
    /// (`start` from [`OperandTile::start_offset`]): the canonical layout of
    /// the descriptor, then the swizzle of the address bits (the tile being
    /// 1024-byte aligned, tile offsets are addresses mod 1024).
    pub fn hardware_offset(&self, start: u32, mn: u32, k: u32) -> u32 {
        let d = self.descriptor();
        let (bytes, p) = (self.tile.bytes, self.row_bytes());
        let linear = match self.major {
            // ((8, m), (T, 2)) : ((pT, SBO), (1, T)), K in elements.
            Major::K => start + (mn / 8) * d.stride_byte_offset + (mn % 8) * p + k * bytes,
            // ((T, p, m), (8, k)) : ((1, T, LBO), (pT, SBO)), MN in elements.
            Major::Mn => {
                let per_atom_row = p / bytes;
                start
                    + (mn / per_atom_row) * d.leading_byte_offset
                    + (mn % per_atom_row) * bytes
                    + (k / 8) * d.stride_byte_offset
                    + (k % 8) * p
            }
        };
        let chunks = p / 16;
        linear ^ (((linear >> 7) & (chunks - 1)) << 4)
    }
}

/// How the warpgroups of a CTA tile the `[m, n]` accumulator of a `dot`
/// on `wgmma`: `groups_m` along M (64-row blocks, repeated when M is
/// larger) times `groups_n` along N (contiguous bands of `n / groups_n`
/// columns, one instruction's N each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccumulatorTiling {
    pub groups_m: u32,
    pub groups_n: u32,
}

impl AccumulatorTiling {
    /// The accumulator's layout: the [`Layout::Mma`] layout with each
    /// warpgroup's four warps along M, banded along N when N is split.
    pub fn layout(&self) -> Layout {
        Layout::Mma { warps_per_cta: vec![4 * self.groups_m, self.groups_n], banded: self.groups_n > 1 }
    }

    /// Columns of one instruction (the band of one warpgroup).
    pub fn band(&self, n: u32) -> u32 {
        n / self.groups_n
    }
}

/// The tiling of the `[m, n]` accumulator of a `dot` that `wgmma` can
/// compute on `num_warps` warps (see the module documentation), when
/// `num_warps` is whole warpgroups: as many warpgroups along M as whole
/// 64-row blocks allow, the rest splitting N into bands that are multiples
/// of 8 columns one instruction covers; `None` otherwise (the `mma.sync`
/// tiling applies).
pub fn accumulator_tiling(shape: [u32; 2], num_warps: u32) -> Option<AccumulatorTiling> {
    let [m, n] = shape;
    if num_warps == 0 || !num_warps.is_multiple_of(4) || !(num_warps / 4).is_power_of_two() {
        return None;
    }
    let groups = num_warps / 4;
    let mut groups_m = groups;
    while groups_m > 1 && !m.is_multiple_of(WGMMA_M * groups_m) {
        groups_m /= 2;
    }
    let groups_n = groups / groups_m;
    let band = n / groups_n;
    let fits = m.is_multiple_of(WGMMA_M * groups_m)
        && n.is_multiple_of(8 * groups_n)
        && band.is_multiple_of(8)
        && (8..=WGMMA_MAX_N).contains(&band);
    fits.then_some(AccumulatorTiling { groups_m, groups_n })
}

/// The PTX of one `wgmma.mma_async` for a 64xN f32 accumulator over
/// `elem_ptx` (`bf16` or `f16`) inputs, both operands from descriptors, as
/// inline-asm text: operands `$0..$(N/2 - 1)` the accumulator outputs, then
/// the inputs in order A descriptor (b64), B descriptor (b64), scale-d (b32:
/// nonzero accumulates, zero overwrites), and last the accumulator inputs
/// tied to the outputs (constraints `=f`x(N/2), `l,l,r`, `0..N/2-1`: LLVM
/// numbers inputs after all outputs, tied ones included).
pub fn mma_async_asm(n: u32, elem_ptx: &str, a: Major, b: Major) -> String {
    let regs = n / 2;
    let acc: Vec<String> = (0..regs).map(|i| format!("${i}")).collect();
    format!(
        "{{ .reg .pred p; setp.ne.b32 p, ${}, 0; wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{elem_ptx}.{elem_ptx} {{{}}}, ${regs}, ${}, p, 1, 1, {}, {}; }}",
        regs + 2,
        acc.join(","),
        regs + 1,
        a.trans_bit(),
        b.trans_bit()
    )
}

/// [`mma_async_asm`] with A in registers: operands `$0..$n/2` the tied
/// accumulators, then the four b32 registers of A's fragment (bf16/f16
/// pairs), B's descriptor and the scale-d flag. A register operand has no
/// transpose bit: its fragment is always rows of M.
pub fn mma_async_reg_a_asm(n: u32, elem_ptx: &str, b: Major) -> String {
    let regs = n / 2;
    let acc: Vec<String> = (0..regs).map(|i| format!("${i}")).collect();
    let a: Vec<String> = (regs..regs + 4).map(|i| format!("${i}")).collect();
    format!(
        "{{ .reg .pred p; setp.ne.b32 p, ${}, 0; wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{elem_ptx}.{elem_ptx} {{{}}}, {{{}}}, ${}, p, 1, 1, {}; }}",
        regs + 5,
        acc.join(","),
        a.join(","),
        regs + 4,
        b.trans_bit()
    )
}

/// The A-fragment element of register pair slot `j` (0..8, two elements per
/// b32 register) that thread `lane` of warp `warp_in_group` holds for an
/// `m64nNk16` whose A rows start at `row0` and K columns at `col0`: the
/// `mma.m16n8k16` A layout per warp, warp `w` taking rows `16 w ..`:
/// (g, 2t..), (g + 8, 2t..), (g, 2t + 8..), (g + 8, 2t + 8..) with
/// `g = lane / 4`, `t = lane % 4`.
pub fn register_a_coord(row0: u32, col0: u32, warp_in_group: u32, lane: u32, j: u32) -> [u32; 2] {
    let (g, t) = (lane / 4, lane % 4);
    let row = row0 + warp_in_group * 16 + g + 8 * ((j / 2) % 2);
    let col = col0 + 2 * t + (j % 2) + 8 * (j / 4);
    [row, col]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    /// The accumulator of one `m64nNk16` (warps along M) holds, in the
    /// registers of two consecutive 8-column chunks, exactly the A fragment
    /// of a K step of 16 over those columns: what lets a product's result
    /// feed the next `wgmma` as A without shared memory.
    #[test]
    fn accumulator_chunks_are_register_a_fragments() {
        let map = Layout::Mma { warps_per_cta: vec![4, 1], banded: false }.thread_map(&[64, 64]);
        for warp in 0..4u32 {
            for lane in 0..32u32 {
                let mut base = [0u32; 2];
                for (bit, add) in map.lane.iter().enumerate() {
                    if lane >> bit & 1 == 1 {
                        base[0] += add[0];
                        base[1] += add[1];
                    }
                }
                for (bit, add) in map.warp.iter().enumerate() {
                    if warp >> bit & 1 == 1 {
                        base[0] += add[0];
                        base[1] += add[1];
                    }
                }
                for step in 0..4u32 {
                    for j in 0..8u32 {
                        let want = register_a_coord(0, 16 * step, warp, lane, j);
                        let reg = &map.regs[(8 * step + j) as usize];
                        assert_eq!(
                            [base[0] + reg[0], base[1] + reg[1]],
                            want,
                            "warp {warp} lane {lane} step {step} slot {j}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn register_a_asm_has_four_a_registers_and_no_a_transpose() {
        let text = mma_async_reg_a_asm(64, "bf16", Major::Mn);
        assert!(text.contains("{$32,$33,$34,$35}, $36, p, 1, 1, 1;"), "{text}");
        assert!(text.contains("setp.ne.b32 p, $37, 0;"), "{text}");
    }

    #[test]
    fn descriptor_bits_match_hand_encoding() {
        // K-major A: LBO 16 B -> 1, SBO 1024 B -> 64, 128-byte swizzle.
        let k_major = MatrixDescriptor {
            leading_byte_offset: 16,
            stride_byte_offset: 1024,
            base_offset: 0,
            swizzle: Swizzle::B128,
        };
        // (1 << 62) | (64 << 32) | (1 << 16)
        assert_eq!(k_major.fixed_bits(), 0x4000_0040_0001_0000);
        // Start 0x2400 (9216 B) -> 0x240 in bits 0-13.
        assert_eq!(k_major.encode(0x2400), 0x4000_0040_0001_0240);
        // MN-major B of 64 K rows: LBO = 64 * 128 = 8192 B -> 512 = 0x200.
        let b = OperandTile::new(SharedTile::wgmma_panels(64, 256, 2).expect("panels"), Major::Mn).expect("wgmma tile");
        assert_eq!(b.descriptor().fixed_bits(), 0x4000_0040_0200_0000);
        // Addresses wrap at 256 KiB and drop their low 4 bits.
        assert_eq!(encode_field(0x4_0010), 1);
        assert_eq!(encode_field(0x3_FFFF), 0x3FFF);
        let none = MatrixDescriptor { swizzle: Swizzle::None, base_offset: 5, ..k_major };
        assert_eq!(none.fixed_bits(), (5 << 49) | (64 << 32) | (1 << 16));
    }

    /// Every element every instruction of a `dot` reads is where `cp.async`
    /// put it.
    fn check_reads(op: &OperandTile, mn_block: u32, mn_total: u32, k_total: u32) {
        let t = op.tile;
        for mn0 in (0..mn_total).step_by(mn_block as usize) {
            for k0 in (0..k_total).step_by(WGMMA_K as usize) {
                let start = op.start_offset(mn0, mn_block, k0).expect("aligned instruction");
                assert_eq!(start % 16, 0);
                for mn in 0..mn_block {
                    for k in 0..WGMMA_K {
                        let (row, col) = match op.major {
                            Major::K => (mn0 + mn, k0 + k),
                            Major::Mn => (k0 + k, mn0 + mn),
                        };
                        let written = t.offset(row, col) * t.bytes;
                        let read = op.hardware_offset(start, mn, k);
                        assert_eq!(read, written, "{:?} mn0 {mn0} k0 {k0} mn {mn} k {k}", op.major);
                    }
                }
            }
        }
    }

    #[test]
    fn k_major_a_reads_what_was_written() {
        // A: [128, 64] bf16, K-contiguous, read as two warpgroups of 64 rows.
        let a =
            OperandTile::new(SharedTile::wgmma_panels(128, 64, 2).expect("one panel"), Major::K).expect("wgmma tile");
        check_reads(&a, WGMMA_M, 128, 64);
        // K = 128: two K panels.
        let a = OperandTile::new(SharedTile::wgmma_panels(64, 128, 2).expect("panels"), Major::K).expect("wgmma tile");
        check_reads(&a, WGMMA_M, 64, 128);
    }

    #[test]
    fn mn_major_b_reads_what_was_written() {
        // B: [64, 256] bf16 row-major (N contiguous): one m64n256k16 per K step.
        let b = OperandTile::new(SharedTile::wgmma_panels(64, 256, 2).expect("panels"), Major::Mn).expect("wgmma tile");
        check_reads(&b, 256, 256, 64);
        let b = OperandTile::new(SharedTile::wgmma_panels(64, 128, 2).expect("panels"), Major::Mn).expect("wgmma tile");
        check_reads(&b, 128, 128, 64);
        // Two warpgroups splitting N = 64 into bands of 32, and N = 128 into 64.
        let b =
            OperandTile::new(SharedTile::wgmma_panels(64, 64, 2).expect("one panel"), Major::Mn).expect("wgmma tile");
        check_reads(&b, 32, 64, 64);
        check_reads(&b, 16, 64, 64);
        let b =
            OperandTile::new(SharedTile::wgmma_panels(128, 128, 2).expect("panels"), Major::Mn).expect("wgmma tile");
        check_reads(&b, 64, 128, 128);
    }

    /// 64- and 32-byte rows (a 32- or 16-wide bf16 operand, or panels of a
    /// row that 128 does not divide): each swizzle mode's descriptor reads
    /// what `cp.async` wrote, for both majors, whole and in bands.
    #[test]
    fn narrow_swizzles_read_what_was_written() {
        for (cols, swizzle) in [(32, Swizzle::B64), (16, Swizzle::B32), (96, Swizzle::B64), (48, Swizzle::B32)] {
            // K-major A [128, cols]: K = cols.
            let a = OperandTile::new(SharedTile::wgmma_panels(128, cols, 2).expect("panels"), Major::K)
                .expect("wgmma tile");
            assert_eq!(a.descriptor().swizzle, swizzle, "{cols}");
            check_reads(&a, WGMMA_M, 128, cols);
            // N-major B [64 K, cols N], whole and in bands of 8 and 16.
            let b = OperandTile::new(SharedTile::wgmma_panels(64, cols, 2).expect("panels"), Major::Mn)
                .expect("wgmma tile");
            check_reads(&b, cols, cols, 64);
            check_reads(&b, 8, cols, 64);
            check_reads(&b, 16, cols, 64);
        }
    }

    #[test]
    fn descriptor_fields_follow_the_row_width() {
        // K-major 64-byte rows: SBO 8 * 64 = 512 B -> 32, mode 2.
        let a = OperandTile::new(SharedTile::wgmma_panels(64, 32, 2).expect("one panel"), Major::K).expect("tile");
        assert_eq!(a.descriptor().fixed_bits(), 0x8000_0020_0001_0000);
        // N-major 32-byte rows of 64 K: LBO 64 * 32 = 2048 B -> 128, SBO 256 B -> 16, mode 3.
        let b = OperandTile::new(SharedTile::wgmma_panels(64, 16, 2).expect("one panel"), Major::Mn).expect("tile");
        assert_eq!(b.descriptor().fixed_bits(), 0xC000_0010_0080_0000);
    }

    #[test]
    fn k_major_b_bands_read_what_was_written() {
        // B = K^T stored K-contiguous, [N = 64, K = 128]: bands of 32 rows.
        let b = OperandTile::new(SharedTile::wgmma_panels(64, 128, 2).expect("panels"), Major::K).expect("wgmma tile");
        check_reads(&b, 32, 64, 128);
    }

    #[test]
    fn misaligned_instructions_and_non_panel_tiles_are_refused() {
        let a =
            OperandTile::new(SharedTile::wgmma_panels(128, 64, 2).expect("one panel"), Major::K).expect("wgmma tile");
        assert_eq!(a.start_offset(4, 64, 0), None);
        assert_eq!(a.start_offset(0, 64, 8), None);
        let b = OperandTile::new(SharedTile::wgmma_panels(64, 256, 2).expect("panels"), Major::Mn).expect("wgmma tile");
        // Inside a panel only when the instruction ends in it.
        assert_eq!(b.start_offset(32, 64, 0), None);
        assert_eq!(b.start_offset(36, 16, 0), None);
        assert_eq!(b.start_offset(32, 32, 16), Some(64 + 16 * 128));
        // The mma.sync placement of a 256-wide row is not a wgmma layout.
        assert_eq!(OperandTile::new(SharedTile::swizzled(64, 256, 2), Major::Mn), None);
    }

    #[test]
    fn accumulator_is_the_mma_layout_of_the_warpgroups() {
        // (m, n, warps, groups along M, groups along N)
        for (m, n, warps, gm, gn) in [
            (128, 256, 8, 2, 1),
            (128, 128, 8, 2, 1),
            (64, 64, 4, 1, 1),
            (128, 64, 4, 1, 1),
            (256, 8, 8, 2, 1),
            (64, 64, 8, 1, 2),
            (64, 128, 8, 1, 2),
            (128, 64, 16, 2, 2),
        ] {
            let tiling = accumulator_tiling([m, n], warps).expect("wgmma tile");
            assert_eq!(tiling, AccumulatorTiling { groups_m: gm, groups_n: gn }, "{m}x{n} on {warps}");
            let map = tiling.layout().thread_map(&[m, n]);
            let band = tiling.band(n);
            let n_regs = band / 2;
            let reps_m = m / (64 * gm);
            assert_eq!(map.regs.len() as u32, reps_m * n_regs);
            for thread in 0..32 * warps {
                let (lane, warp) = (thread % 32, thread / 32);
                let mut base = [0u32; 2];
                for (bit, offset) in map.lane.iter().enumerate() {
                    if lane >> bit & 1 == 1 {
                        base = [base[0] ^ offset[0], base[1] ^ offset[1]];
                    }
                }
                for (bit, offset) in map.warp.iter().enumerate() {
                    if warp >> bit & 1 == 1 {
                        base = [base[0] ^ offset[0], base[1] ^ offset[1]];
                    }
                }
                let (group, t) = (thread / 128, thread % 128);
                let (group_m, group_n) = (group % gm, group / gm);
                for (r, c) in map.regs.iter().enumerate() {
                    let (rep, d) = (r as u32 / n_regs, r as u32 % n_regs);
                    let j = d / 4;
                    let row = rep * 64 * gm + group_m * 64 + (t / 32) * 16 + (t % 32) / 4 + 8 * ((d % 4) / 2);
                    let col = group_n * band + 8 * j + 2 * (t % 4) + d % 2;
                    assert_eq!([base[0] + c[0], base[1] + c[1]], [row, col], "{m}x{n} thread {thread} reg {r}");
                }
            }
        }
    }

    #[test]
    fn unsuitable_accumulators_keep_mma_sync() {
        assert_eq!(accumulator_tiling([128, 256], 6), None);
        assert_eq!(accumulator_tiling([64, 8], 8), None);
        assert_eq!(accumulator_tiling([128, 512], 8), None);
        assert_eq!(accumulator_tiling([128, 12], 4), None);
        assert_eq!(accumulator_tiling([32, 64], 4), None);
    }

    /// MLIR of one warpgroup running `dot(a, b)` for A `[64, 64]` (K-major,
    /// at shared offset 0) and B `[64, n]` row-major (N-major, after A), four
    /// `m64nNk16` steps with descriptors built from the shared address as the
    /// lowering builds them, then storing the accumulator.
    fn warpgroup_kernel(n: u32) -> String {
        let a =
            OperandTile::new(SharedTile::wgmma_panels(64, 64, 2).expect("one panel"), Major::K).expect("wgmma tile");
        let b = OperandTile::new(SharedTile::wgmma_panels(64, n, 2).expect("panels"), Major::Mn).expect("wgmma tile");
        let b_base = a.tile.size_bytes() as u32;
        let regs = n / 2;
        let mut body = vec![
            "%tid = nvvm.read.ptx.sreg.tid.x : i32".to_string(),
            "%smem = llvm.mlir.addressof @smem : !llvm.ptr<3>".to_string(),
            "%addr = llvm.ptrtoint %smem : !llvm.ptr<3> to i32".to_string(),
            "%mask = arith.constant 262143 : i32".to_string(),
            "%four = arith.constant 4 : i32".to_string(),
            "%one = arith.constant 1 : i32".to_string(),
            format!("%fixed_a = arith.constant {} : i64", a.descriptor().fixed_bits() as i64),
            format!("%fixed_b = arith.constant {} : i64", b.descriptor().fixed_bits() as i64),
            "%zero = arith.constant 0.0 : f32".to_string(),
        ];
        let mut acc: Vec<String> = vec!["%zero".to_string(); regs as usize];
        let f32s = vec!["f32"; regs as usize].join(", ");
        let ty = format!("!llvm.struct<({f32s})>");
        let outs = vec!["=f"; regs as usize].join(",");
        let tied: Vec<String> = (0..regs).map(|i| i.to_string()).collect();
        let constraints = format!("{outs},l,l,r,{}", tied.join(","));
        let text = mma_async_asm(n, "bf16", Major::K, Major::Mn);
        body.push(
            "llvm.inline_asm has_side_effects asm_dialect = att \"wgmma.fence.sync.aligned;\", \"\" : () -> ()".into(),
        );
        for step in 0..64 / WGMMA_K {
            let k0 = step * WGMMA_K;
            for (name, op, base) in [("a", &a, 0), ("b", &b, b_base)] {
                let start = base + op.start_offset(0, n, k0).expect("aligned");
                body.push(format!("%{name}_off{step} = arith.constant {start} : i32"));
                body.push(format!("%{name}_at{step} = arith.addi %addr, %{name}_off{step} : i32"));
                body.push(format!("%{name}_m{step} = arith.andi %{name}_at{step}, %mask : i32"));
                body.push(format!("%{name}_s{step} = arith.shrui %{name}_m{step}, %four : i32"));
                body.push(format!("%{name}_w{step} = arith.extui %{name}_s{step} : i32 to i64"));
                body.push(format!("%{name}_d{step} = arith.ori %fixed_{name}, %{name}_w{step} : i64"));
            }
            body.push(format!(
                "%r{step} = llvm.inline_asm has_side_effects asm_dialect = att \"{text}\", \"{constraints}\" %a_d{step}, %b_d{step}, %one, {} : (i64, i64, i32, {f32s}) -> {ty}",
                acc.join(", ")
            ));
            for (i, slot) in acc.iter_mut().enumerate() {
                body.push(format!("%acc{step}_{i} = llvm.extractvalue %r{step}[{i}] : {ty}"));
                *slot = format!("%acc{step}_{i}");
            }
        }
        body.push(
            "llvm.inline_asm has_side_effects asm_dialect = att \"wgmma.commit_group.sync.aligned;\", \"\" : () -> ()"
                .into(),
        );
        body.push(
            "llvm.inline_asm has_side_effects asm_dialect = att \"wgmma.wait_group.sync.aligned 0;\", \"\" : () -> ()"
                .into(),
        );
        body.push(format!("%regs = arith.constant {regs} : i32"));
        body.push("%first = arith.muli %tid, %regs : i32".into());
        for (i, v) in acc.iter().enumerate() {
            body.push(format!("%c{i} = arith.constant {i} : i32"));
            body.push(format!("%i{i} = arith.addi %first, %c{i} : i32"));
            body.push(format!("%p{i} = llvm.getelementptr %out[%i{i}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, f32"));
            body.push(format!("llvm.store {v}, %p{i} : f32, !llvm.ptr<1>"));
        }
        body.push("llvm.return".into());
        format!(
            "module {{\n  llvm.mlir.global external @smem() {{addr_space = 3 : i32, alignment = 1024 : i64}} : !llvm.array<0 x i8>\n  llvm.func @wgmma_m64n{n}(%out: !llvm.ptr<1>) attributes {{nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>}} {{\n    {}\n  }}\n}}\n",
            body.join("\n    ")
        )
    }

    #[test]
    fn warpgroup_dot_assembles_for_sm90a_without_spills() {
        use crate::{GpuArch, MlirContext, Target, compile, ptxas::Ptxas};
        for n in [128, 256] {
            let name = format!("wgmma_m64n{n}");
            let text = warpgroup_kernel(n);
            let mlir = MlirContext::new();
            let mut module = melior::ir::Module::parse(mlir.mlir(), &text).unwrap_or_else(|| panic!("parse {name}"));
            let target = Target::new(GpuArch::Sm90a);
            let artifacts = compile(&mlir, &mut module, &name, &target).unwrap_or_else(|e| panic!("{name}: {e}"));
            let ptx = &artifacts.ptx;
            let instruction = format!("wgmma.mma_async.sync.aligned.m64n{n}k16.f32.bf16.bf16");
            assert_eq!(ptx.matches(&instruction).count(), 4, "{ptx}");
            assert!(ptx.contains(", p, 1, 1, 0, 1;"), "{ptx}");
            assert!(ptx.contains("wgmma.fence.sync.aligned;"), "{ptx}");
            assert!(ptx.contains("wgmma.commit_group.sync.aligned;"), "{ptx}");
            if let Some(dir) = std::env::var_os("TESSERA_BACKEND_DUMP") {
                let path = std::path::Path::new(&dir).join(format!("{name}.sm_90a.ptx"));
                std::fs::write(&path, ptx).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            }
            let Some(ptxas) = Ptxas::locate() else {
                eprintln!("SKIPPED ptxas check of {name}: ptxas not found (set TESSERA_PTXAS)");
                continue;
            };
            let report = ptxas.assemble(ptx, GpuArch::Sm90a).unwrap_or_else(|e| panic!("ptxas rejected {name}: {e}"));
            let f = report.functions.iter().find(|f| f.name == name).expect("ptxas reports the entry");
            eprintln!("ptxas sm_90a {name}: {} registers, {} B spill stores", f.registers, f.spill_store_bytes);
            assert_eq!((f.spill_store_bytes, f.spill_load_bytes), (0, 0), "{name} spills");
        }
    }

    #[test]
    fn mma_async_text_names_the_shape_and_transposes() {
        let text = mma_async_asm(256, "bf16", Major::K, Major::Mn);
        assert!(text.contains("wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {$0,"));
        assert!(text.contains("$127}, $128, $129, p, 1, 1, 0, 1;"));
        assert!(text.contains("setp.ne.b32 p, $130, 0;"));
    }
}
