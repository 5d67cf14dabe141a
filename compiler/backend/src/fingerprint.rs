//! A short summary of a PTX module: the instruction counts that tell whether
//! the lowering did what it should, plus `ptxas` resource usage.
//!
//! The full PTX of a kernel is long and changes with every LLVM update; the
//! fingerprint is what a reviewer checks first: did the loads vectorize
//! (`ld.global.v4`), do tensor cores run (`mma.sync`, `wgmma`), is data staged
//! with `cp.async`/`ldmatrix`, how many barriers and shuffles, how much shared
//! memory, how many registers, any spills. Its [`Display`](fmt::Display) form is
//! stable (every field always printed, in a fixed order) so it can be
//! snapshotted and diffed.

use std::fmt;

use crate::{compile::CompiledKernel, normalize::normalize_ptx, ptxas::FunctionStats};

/// How many memory accesses of one kind use each vector width.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorWidths {
    /// One element per instruction.
    pub scalar: usize,
    pub v2: usize,
    pub v4: usize,
    pub v8: usize,
}

impl VectorWidths {
    pub fn total(&self) -> usize {
        self.scalar + self.v2 + self.v4 + self.v8
    }

    fn record(&mut self, width: u32) {
        match width {
            2 => self.v2 += 1,
            4 => self.v4 += 1,
            8 => self.v8 += 1,
            _ => self.scalar += 1,
        }
    }
}

impl fmt::Display for VectorWidths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scalar {}, v2 {}, v4 {}, v8 {}", self.scalar, self.v2, self.v4, self.v8)
    }
}

/// Registers and spills of one entry, as `ptxas -v` reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PtxasResources {
    pub registers: u32,
    pub stack_frame_bytes: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
}

impl From<&FunctionStats> for PtxasResources {
    fn from(stats: &FunctionStats) -> PtxasResources {
        PtxasResources {
            registers: stats.registers,
            stack_frame_bytes: stats.stack_frame_bytes,
            spill_store_bytes: stats.spill_store_bytes,
            spill_load_bytes: stats.spill_load_bytes,
        }
    }
}

/// Instruction counts, shared memory and (once ptxas ran) resources of a PTX module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PtxFingerprint {
    /// `.version`, as written (`8.0`).
    pub version: String,
    /// `.target`, as written (`sm_90a`).
    pub target: String,
    /// The `.entry` names, in order.
    pub entries: Vec<String>,
    /// Threads per CTA from `.maxntid` or `.reqntid` (x * y * z), if declared.
    pub threads: Option<u32>,
    /// Instruction statements (not directives, labels or braces).
    pub instructions: usize,
    pub ld_global: VectorWidths,
    pub st_global: VectorWidths,
    pub ld_shared: VectorWidths,
    pub st_shared: VectorWidths,
    /// `atom.*` and `red.*` on any state space.
    pub atomics: usize,
    /// Warp-level MMA (`mma.sync`, sm_80+).
    pub mma_sync: usize,
    /// Warpgroup MMA (`wgmma.mma_async`, sm_90a).
    pub wgmma: usize,
    pub ldmatrix: usize,
    /// Asynchronous global -> shared copies (`cp.async.ca`/`cp.async.cg`).
    pub cp_async: usize,
    /// Bulk (TMA) copies (`cp.async.bulk.*`).
    pub cp_async_bulk: usize,
    pub shfl: usize,
    /// CTA barriers (`bar.sync`, `barrier.sync`, `bar.arrive`...).
    pub bar: usize,
    /// `ex2.approx` (how `exp` lowers).
    pub ex2: usize,
    /// Bytes of statically declared `.shared` memory.
    pub static_shared_bytes: u64,
    /// Whether the PTX declares dynamic shared memory (`.extern .shared name[]`),
    /// whose size is chosen at launch.
    pub dynamic_shared: bool,
    /// The dynamic shared memory the kernel needs at launch, when known (from
    /// the compiler: [`PtxFingerprint::of_kernel`]; PTX text does not say).
    pub dynamic_shared_bytes: Option<u32>,
    /// From `ptxas -v`, when it ran.
    pub ptxas: Option<PtxasResources>,
}

impl PtxFingerprint {
    /// Counts the instructions and declarations of `ptx` (comments ignored).
    pub fn of_ptx(ptx: &str) -> PtxFingerprint {
        let mut fp = PtxFingerprint::default();
        for line in normalize_ptx(ptx).lines() {
            let line = line.trim();
            if line.starts_with('.') {
                fp.directive(line);
            } else if let Some(block) = line.strip_prefix('{').filter(|b| b.contains(';')) {
                // A one-line block (inline asm with its own `.reg`s, such as
                // the predicate of `wgmma`'s scale-d, or LLVM's b16
                // conversions): its statements are classified, but only
                // lines count as `instructions`, as they always have.
                for statement in block.trim_end().trim_end_matches('}').split(';') {
                    let statement = statement.trim();
                    if let Some(opcode) = opcode(statement).filter(|_| !statement.starts_with('.')) {
                        fp.classify(opcode);
                    }
                }
            } else if let Some(opcode) = opcode(line) {
                fp.instruction(opcode);
            }
        }
        fp
    }

    /// The fingerprint of a compiled kernel's PTX, with the dynamic shared
    /// memory its launch needs, and registers and spills if ptxas ran on it.
    pub fn of_kernel(kernel: &CompiledKernel) -> PtxFingerprint {
        let mut fp = PtxFingerprint::of_ptx(&kernel.ptx);
        if fp.dynamic_shared {
            fp.dynamic_shared_bytes = Some(kernel.shared_bytes);
        }
        match &kernel.ptxas {
            Some(stats) => fp.with_ptxas(stats),
            None => fp,
        }
    }

    /// The same fingerprint with the resources `ptxas -v` reported for its entry.
    pub fn with_ptxas(self, stats: &FunctionStats) -> PtxFingerprint {
        PtxFingerprint { ptxas: Some(PtxasResources::from(stats)), ..self }
    }

    fn directive(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some(".version") => self.version = words.next().unwrap_or_default().to_string(),
            Some(".target") => self.target = words.next().unwrap_or_default().trim_end_matches(',').to_string(),
            Some(".maxntid" | ".reqntid") => {
                let dims = line.split_whitespace().skip(1).collect::<String>();
                self.threads = dims.split(',').map(|d| d.trim().parse::<u32>().ok()).product();
            }
            _ => {}
        }
        if let Some(rest) = line.split(".entry ").nth(1) {
            let name = rest.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or_default();
            self.entries.push(name.to_string());
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        // Kernel parameters may point to shared memory; only declarations reserve it.
        if words.contains(&".shared") && !words.contains(&".param") {
            if words.contains(&".extern") {
                self.dynamic_shared = true;
            } else {
                self.static_shared_bytes += shared_declaration_bytes(&words);
            }
        }
    }

    fn instruction(&mut self, opcode: &str) {
        self.instructions += 1;
        self.classify(opcode);
    }

    /// Counts `opcode` in the kind it belongs to, if any.
    fn classify(&mut self, opcode: &str) {
        let parts: Vec<&str> = opcode.split('.').collect();
        let has = |part: &str| parts.contains(&part);
        let space = |name: &str| parts.iter().any(|p| *p == name || p.starts_with(&format!("{name}::")));
        let width = || parts.iter().find_map(|p| p.strip_prefix('v').and_then(|n| n.parse::<u32>().ok())).unwrap_or(1);
        match parts.first().copied().unwrap_or_default() {
            "ld" | "ldu" if space("global") => self.ld_global.record(width()),
            "st" if space("global") => self.st_global.record(width()),
            "ld" if space("shared") => self.ld_shared.record(width()),
            "st" if space("shared") => self.st_shared.record(width()),
            "atom" | "red" => self.atomics += 1,
            "mma" if has("sync") => self.mma_sync += 1,
            "wgmma" if has("mma_async") => self.wgmma += 1,
            "ldmatrix" => self.ldmatrix += 1,
            "cp" if has("async") && has("bulk") => self.cp_async_bulk += 1,
            "cp" if has("async") && (has("ca") || has("cg")) => self.cp_async += 1,
            "shfl" => self.shfl += 1,
            "bar" | "barrier" => self.bar += 1,
            "ex2" => self.ex2 += 1,
            _ => {}
        }
    }
}

/// The opcode of an instruction line (`@%p1 ld.global.v4.b32 {...}` ->
/// `ld.global.v4.b32`), or `None` for labels, braces and operand continuations.
fn opcode(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let mut first = words.next()?;
    if first.starts_with('@') {
        first = words.next()?;
    }
    let opcode = first.trim_end_matches(';');
    let starts_with_letter = opcode.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    (starts_with_letter && !opcode.ends_with(':')).then_some(opcode)
}

/// Bytes declared by `.shared [.align N] .bK name[D1][D2]...;` (element bits / 8 times every dimension).
fn shared_declaration_bytes(words: &[&str]) -> u64 {
    let element_bits = words.iter().filter_map(|w| w.strip_prefix('.')).find_map(|w| {
        let mut chars = w.chars();
        matches!(chars.next(), Some('b' | 'u' | 's' | 'f')).then(|| chars.as_str().parse::<u64>().ok()).flatten()
    });
    let Some(bits) = element_bits else { return 0 };
    let name = words.last().copied().unwrap_or_default().trim_end_matches(';');
    let elements: u64 = name.split('[').skip(1).map(|d| d.trim_end_matches(']').parse::<u64>().unwrap_or(0)).product();
    bits / 8 * elements
}

impl fmt::Display for PtxFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "entries: {}", self.entries.join(", "))?;
        writeln!(f, "target: {}, PTX {}", self.target, self.version)?;
        match self.threads {
            Some(threads) => writeln!(f, "threads: {threads}")?,
            None => writeln!(f, "threads: not declared")?,
        }
        writeln!(f, "instructions: {}", self.instructions)?;
        writeln!(f, "ld.global: {}", self.ld_global)?;
        writeln!(f, "st.global: {}", self.st_global)?;
        writeln!(f, "ld.shared: {}", self.ld_shared)?;
        writeln!(f, "st.shared: {}", self.st_shared)?;
        writeln!(f, "atomics: {}", self.atomics)?;
        writeln!(f, "mma.sync: {}, wgmma: {}, ldmatrix: {}", self.mma_sync, self.wgmma, self.ldmatrix)?;
        writeln!(f, "cp.async: {}, cp.async.bulk: {}", self.cp_async, self.cp_async_bulk)?;
        writeln!(f, "shfl: {}, bar: {}, ex2: {}", self.shfl, self.bar, self.ex2)?;
        write!(f, "shared: static {} B, dynamic ", self.static_shared_bytes)?;
        match (self.dynamic_shared, self.dynamic_shared_bytes) {
            (false, _) => writeln!(f, "none")?,
            (true, Some(bytes)) => writeln!(f, "{bytes} B")?,
            (true, None) => writeln!(f, "(size set at launch)")?,
        }
        match &self.ptxas {
            Some(r) => write!(
                f,
                "ptxas: {} registers, {} B stack, {} B spill stores, {} B spill loads",
                r.registers, r.stack_frame_bytes, r.spill_store_bytes, r.spill_load_bytes
            ),
            None => write!(f, "ptxas: not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = "//\n// Generated by LLVM NVPTX Back-End\n//\n\n\
        .version 8.0\n.target sm_90a\n.address_size 64\n\n\
        .extern .shared .align 16 .b8 dynamic_smem[];\n\
        .visible .entry k(\n\t.param .u64 .ptr .global .align 1 k_param_0\n)\n.maxntid 256, 1, 1\n{\n\
        \t.reg .pred \t%p<3>;\n\
        \t.shared .align 4 .b8 k_smem[1024];\n\
        \t.shared .align 16 .f32 k_tile[4][8];\n\
        \tld.global.v4.b32 \t{%r1, %r2, %r3, %r4}, [%rd1];\n\
        \t@%p1 ld.global.nc.v2.b32 \t{%r5, %r6}, [%rd2];\n\
        \t@!%p2 ld.global.b32 \t%r7, [%rd3];\n\
        \tst.global.v4.b32 \t[%rd4], {%r1, %r2, %r3, %r4};\n\
        \tst.global.v8.b32 \t[%rd4], {%r1, %r2, %r3, %r4, %r1, %r2, %r3, %r4};\n\
        \tst.shared.b32 \t[%r8], %r1;\n\
        \tld.shared::cta.v2.b32 \t{%r9, %r10}, [%r8];\n\
        \tatom.global.add.f32 \t%r11, [%rd1], %r1;\n\
        \tred.shared.add.u32 \t[%r8], 1;\n\
        \tmma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32\n\t\t{%r14, %r15, %r16, %r17},\n\
        \t\t{%r3, %r4, %r5, %r6},\n\t\t{%r8, %r9},\n\t\t{%r10, %r11, %r12, %r13};\n\
        wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%r1, %r2, %r3, %r4}, %rd1, %rd2, p, 1,  1, 0,  0;\n\
        \twgmma.fence.sync.aligned;\n\
        \t{ .reg .pred p; setp.ne.b32 p, %r1, 0; wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%r1, %r2, %r3, %r4}, %rd1, %rd2, p, 1, 1, 0, 1; }\n\
        \tldmatrix.sync.aligned.m8n8.x4.shared.b16 \t{%r1, %r2, %r3, %r4}, [%r8];\n\
        \tcp.async.cg.shared.global [%r8], [%rd1], 16;\n\
        \tcp.async.commit_group;\n\
        \tcp.async.wait_group \t0;\n\
        \tcp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%r8], [%rd1, {%r1, %r2}], [%r9];\n\
        \tshfl.sync.bfly.b32 \t%r12, %r1, 16, 31, -1;\n\
        \tbar.sync \t0;\n\
        \tex2.approx.ftz.f32 \t%r13, %r12;\n\
        $L__BB0_2:\n\
        \tret; // done\n\
        }\n";

    #[test]
    fn counts_every_kind_of_instruction() {
        let fp = PtxFingerprint::of_ptx(PTX);
        assert_eq!(fp.version, "8.0");
        assert_eq!(fp.target, "sm_90a");
        assert_eq!(fp.entries, ["k"]);
        assert_eq!(fp.threads, Some(256));
        assert_eq!(fp.ld_global, VectorWidths { scalar: 1, v2: 1, v4: 1, v8: 0 });
        assert_eq!(fp.st_global, VectorWidths { scalar: 0, v2: 0, v4: 1, v8: 1 });
        assert_eq!(fp.st_shared, VectorWidths { scalar: 1, ..VectorWidths::default() });
        assert_eq!(fp.ld_shared, VectorWidths { v2: 1, ..VectorWidths::default() });
        assert_eq!(fp.atomics, 2);
        // The second wgmma is inside a one-line inline-asm block.
        assert_eq!((fp.mma_sync, fp.wgmma, fp.ldmatrix), (1, 2, 1));
        assert_eq!((fp.cp_async, fp.cp_async_bulk), (1, 1));
        assert_eq!((fp.shfl, fp.bar, fp.ex2), (1, 1, 1));
        // 1024 bytes plus 4 x 8 f32; the dynamic extern array has no size in PTX.
        assert_eq!(fp.static_shared_bytes, 1024 + 4 * 8 * 4);
        assert!(fp.dynamic_shared);
        assert_eq!(fp.dynamic_shared_bytes, None);
        // Operand continuation lines of the multi-line mma are not
        // instructions, nor is the one-line block.
        assert_eq!(fp.instructions, 21);
        assert_eq!(fp.ptxas, None);
    }

    #[test]
    fn display_is_stable_and_names_every_field() {
        let stats = FunctionStats {
            name: "k".into(),
            registers: 40,
            stack_frame_bytes: 8,
            spill_store_bytes: 4,
            spill_load_bytes: 4,
        };
        let text = PtxFingerprint::of_ptx(PTX).with_ptxas(&stats).to_string();
        assert_eq!(
            text,
            "entries: k\n\
             target: sm_90a, PTX 8.0\n\
             threads: 256\n\
             instructions: 21\n\
             ld.global: scalar 1, v2 1, v4 1, v8 0\n\
             st.global: scalar 0, v2 0, v4 1, v8 1\n\
             ld.shared: scalar 0, v2 1, v4 0, v8 0\n\
             st.shared: scalar 1, v2 0, v4 0, v8 0\n\
             atomics: 2\n\
             mma.sync: 1, wgmma: 2, ldmatrix: 1\n\
             cp.async: 1, cp.async.bulk: 1\n\
             shfl: 1, bar: 1, ex2: 1\n\
             shared: static 1152 B, dynamic (size set at launch)\n\
             ptxas: 40 registers, 8 B stack, 4 B spill stores, 4 B spill loads"
        );
    }

    #[test]
    fn a_module_without_launch_bounds_or_ptxas_says_so() {
        let text =
            PtxFingerprint::of_ptx(".version 7.0\n.target sm_80\n.visible .entry e()\n{\n\tret;\n}\n").to_string();
        assert!(text.contains("threads: not declared"), "{text}");
        assert!(text.contains("shared: static 0 B, dynamic none\n"), "{text}");
        assert!(text.contains("instructions: 1\n"), "{text}");
        assert!(text.ends_with("ptxas: not run"), "{text}");
    }

    #[test]
    fn commented_out_instructions_are_not_counted() {
        let fp = PtxFingerprint::of_ptx("// mma.sync.aligned.m16n8k16 {}\n/* bar.sync 0; */\n\tret;\n");
        assert_eq!((fp.mma_sync, fp.bar, fp.instructions), (0, 0, 1));
    }
}
