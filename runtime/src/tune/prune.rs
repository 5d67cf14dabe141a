//! A cost model that rules out variants the device cannot run, before any
//! launch: a launch that is bound to fail wastes tuning time and, for some
//! failures, poisons the context.

use crate::bundle::VariantInfo;
use crate::device::DeviceInfo;

/// Why `info` cannot run on `device`, or None if it may.
pub fn prune(info: &VariantInfo, device: &DeviceInfo) -> Option<String> {
    let threads = info.threads();
    if threads > device.max_threads_per_block {
        return Some(format!("{threads} threads per block, the device allows {}", device.max_threads_per_block));
    }
    if info.shared_bytes > device.max_shared_per_block {
        return Some(format!(
            "{} bytes of shared memory, the device allows {} per block",
            info.shared_bytes, device.max_shared_per_block
        ));
    }
    let registers = u64::from(info.registers) * u64::from(threads);
    if device.registers_per_block > 0 && registers > u64::from(device.registers_per_block) {
        return Some(format!(
            "{} registers x {threads} threads = {registers}, the register file holds {} per block",
            info.registers, device.registers_per_block
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Arch;

    fn h100() -> DeviceInfo {
        DeviceInfo {
            name: "H100".into(),
            compute_capability: (9, 0),
            arch: Arch::of_device(9, 0),
            driver_version: 12080,
            sm_count: 132,
            l2_bytes: 50 << 20,
            max_shared_per_block: 232_448,
            max_threads_per_block: 1024,
            registers_per_block: 65536,
        }
    }

    fn variant(warps: u32, shared_bytes: u32, registers: u32) -> VariantInfo {
        VariantInfo { shared_bytes, registers, ..VariantInfo::new("k", "sm_90a", warps) }
    }

    #[test]
    fn limits() {
        assert_eq!(prune(&variant(4, 48 * 1024, 128), &h100()), None);
        assert_eq!(prune(&variant(8, 232_448, 255), &h100()), None);
        assert_eq!(
            prune(&variant(4, 300_000, 32), &h100()).unwrap(),
            "300000 bytes of shared memory, the device allows 232448 per block"
        );
        // Exactly the register file is fine.
        assert_eq!(prune(&variant(16, 0, 128), &h100()), None);
        let small = DeviceInfo { max_threads_per_block: 512, ..h100() };
        assert_eq!(prune(&variant(32, 0, 16), &small).unwrap(), "1024 threads per block, the device allows 512");
        assert_eq!(
            prune(&variant(32, 0, 128), &h100()).unwrap(),
            "128 registers x 1024 threads = 131072, the register file holds 65536 per block"
        );
        assert_eq!(prune(&variant(32, 0, 64), &h100()), None);
    }
}
