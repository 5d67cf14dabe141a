//! Per-block resource limits of each architecture: a variant over any of
//! them cannot launch, so it is rejected at build time instead of failing on
//! the serving machine.
//!
//! Numbers from the CUDA C++ Programming Guide, "Technical Specifications per
//! Compute Capability": the shared memory is the most one block may opt in to.

use crate::codes;
use crate::report::Reason;
use tessera_backend::GpuArch;

/// What one thread block may use on an architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchLimits {
    /// Shared memory per block, in bytes, with the launch opting in to the maximum.
    pub shared_bytes: u32,
    /// 32-bit registers per block (registers per thread times threads).
    pub registers: u32,
    pub threads: u32,
}

impl ArchLimits {
    pub fn of(arch: GpuArch) -> ArchLimits {
        let shared_kib = match arch {
            GpuArch::Sm80 => 163,
            GpuArch::Sm86 | GpuArch::Sm89 => 99,
            GpuArch::Sm90 | GpuArch::Sm90a => 227,
        };
        ArchLimits { shared_bytes: shared_kib * 1024, registers: 64 * 1024, threads: 1024 }
    }
}

/// Checks threads and shared memory (known before `ptxas` runs).
pub fn check_launch(arch: GpuArch, threads: u32, shared_bytes: u32) -> Result<(), Reason> {
    let limits = ArchLimits::of(arch);
    if threads > limits.threads {
        return Err(Reason::new(
            codes::THREAD_LIMIT,
            format!("{threads} threads per block, more than the {} a block may have", limits.threads),
        ));
    }
    if shared_bytes > limits.shared_bytes {
        return Err(Reason::new(
            codes::SHARED_MEMORY_LIMIT,
            format!(
                "needs {shared_bytes} bytes of shared memory per block, more than the {} bytes ({} KiB) of {arch}",
                limits.shared_bytes,
                limits.shared_bytes / 1024
            ),
        ));
    }
    Ok(())
}

/// Checks the register file (known once `ptxas` reported registers per thread).
pub fn check_registers(arch: GpuArch, threads: u32, registers_per_thread: u32) -> Result<(), Reason> {
    let limits = ArchLimits::of(arch);
    let needed = u64::from(registers_per_thread) * u64::from(threads);
    if needed > u64::from(limits.registers) {
        return Err(Reason::new(
            codes::REGISTER_LIMIT,
            format!(
                "needs {registers_per_thread} registers x {threads} threads = {needed} registers per block, \
                 more than the {} of {arch}",
                limits.registers
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_memory_limits_follow_the_architecture() {
        assert_eq!(check_launch(GpuArch::Sm80, 128, 163 * 1024), Ok(()));
        let error = check_launch(GpuArch::Sm80, 128, 163 * 1024 + 1).expect_err("over sm_80's 163 KiB");
        assert_eq!(error.code, codes::SHARED_MEMORY_LIMIT);
        assert!(error.message.contains("166913 bytes") && error.message.contains("sm_80"), "{}", error.message);
        assert!(check_launch(GpuArch::Sm86, 128, 100 * 1024).is_err());
        assert!(check_launch(GpuArch::Sm89, 128, 99 * 1024).is_ok());
        assert!(check_launch(GpuArch::Sm90a, 128, 200 * 1024).is_ok());
        assert!(check_launch(GpuArch::Sm90, 128, 228 * 1024).is_err());
    }

    #[test]
    fn threads_and_registers_per_block_are_bounded() {
        assert_eq!(check_launch(GpuArch::Sm90a, 2048, 0).map_err(|r| r.code), Err(codes::THREAD_LIMIT));
        assert_eq!(check_registers(GpuArch::Sm80, 512, 255).map_err(|r| r.code), Err(codes::REGISTER_LIMIT));
        // 64 registers x 1024 threads is exactly the register file.
        assert_eq!(check_registers(GpuArch::Sm80, 1024, 64), Ok(()));
        assert!(check_registers(GpuArch::Sm90a, 1024, 65).is_err());
    }
}
