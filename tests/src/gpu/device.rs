//! The GPU side of the checker and the benchmark: uploading a case's
//! arguments, launching one chosen variant, reading buffers back, and raw
//! driver work the runtime does not offer (partial downloads, timing a
//! device-to-device copy).
//!
//! One variant is launched by giving the runtime a bundle that holds only
//! that variant (its only candidate, so nothing is tuned): the public launch
//! path, argument validation included, runs exactly as in serving.

use crate::gpu::inputs::{HostArgs, HostValue, decode, encode};
use cudarc::driver::sys::CUevent_flags;
use cudarc::driver::{CudaContext, CudaStream, result};
use std::sync::Arc;
use tessera_runtime::bundle::{BundleData, DType, ParamKind, VariantEntry};
use tessera_runtime::{Bundle, BundleWriter, CodeObjects, Error, LaunchArgs, RawBuffer, Runtime, Scalar};
use tessera_tir::ScalarType;

/// Process exit code when there is no usable driver or GPU.
pub const EXIT_NO_GPU: u8 = 2;

/// Opens device 0, or explains in one line why there is none.
pub fn open_runtime() -> Result<Runtime, String> {
    Runtime::new().map_err(|e| match e {
        Error::NoDriver(why) => format!("no CUDA driver: {why}"),
        Error::NoDevice(why) => format!("no CUDA driver can see a GPU (no CUDA device): {why}"),
        other => format!("cannot open the GPU: {other}"),
    })
}

/// The runtime's element type of an IR scalar type.
pub fn dtype_of(ty: ScalarType) -> Option<DType> {
    DType::ALL.into_iter().find(|d| d.name() == ty.name())
}

/// A bundle holding `kernel` with only the variants `keep` accepts.
pub fn subset_bundle(data: &BundleData, kernel: &str, keep: &dyn Fn(&VariantEntry) -> bool) -> Result<Bundle, String> {
    let entry = data.kernel(kernel).ok_or_else(|| format!("the bundle has no kernel `{kernel}`"))?;
    let manifest = data.manifest();
    let mut writer = BundleWriter::new(manifest.compiler_version.clone(), manifest.source_hash.clone());
    writer.add_kernel(entry.decl.clone()).map_err(|e| e.to_string())?;
    for variant in entry.variants.iter().filter(|v| keep(v)) {
        let object = |index: Option<u32>| index.and_then(|i| data.object(i));
        let ptx = match object(variant.code.ptx) {
            Some(bytes) => Some(String::from_utf8(bytes.to_vec()).map_err(|e| format!("PTX is not UTF-8: {e}"))?),
            None => None,
        };
        let code = CodeObjects { ptx, cubin: object(variant.code.cubin).map(<[u8]>::to_vec) };
        writer.add_variant(kernel, variant.info.clone(), code).map_err(|e| e.to_string())?;
    }
    let bytes = writer.to_bytes().map_err(|e| e.to_string())?;
    Ok(Bundle::from_data(BundleData::from_bytes(&bytes).map_err(|e| e.to_string())?))
}

/// A case's arguments on the device.
pub struct DeviceArgs {
    /// Parameter name and value, in signature order.
    args: Vec<(String, DeviceValue)>,
}

enum DeviceValue {
    Scalar(Scalar),
    Buffer { buffer: RawBuffer, elem: ScalarType },
}

impl DeviceArgs {
    /// Uploads `host`, typed by the bundle's signature `params` (which must
    /// agree with the sources the arguments were built from).
    pub fn upload(
        rt: &Runtime,
        host: &HostArgs,
        params: &[tessera_runtime::bundle::Param],
    ) -> Result<DeviceArgs, String> {
        let mut args = Vec::new();
        for param in params {
            let Some((_, value)) = host.args.iter().find(|(n, _)| *n == param.name) else {
                return Err(format!("the bundle's kernel has a parameter `{}` the sources do not", param.name));
            };
            let stale = |what: String| {
                format!("parameter `{}`: the bundle says {}, the sources {what}", param.name, param.kind)
            };
            let value = match (param.kind, value) {
                (ParamKind::Scalar { dtype }, HostValue::Scalar { ty, value }) => {
                    if Some(dtype) != dtype_of(*ty) {
                        return Err(stale(ty.to_string()));
                    }
                    let scalar = Scalar::from_f64(dtype, *value)
                        .ok_or_else(|| format!("argument `{}` = {value} does not fit {dtype}", param.name))?;
                    DeviceValue::Scalar(scalar)
                }
                (ParamKind::Pointer { elem }, HostValue::Buffer { buffer, .. }) => {
                    if Some(elem) != dtype_of(buffer.elem()) {
                        return Err(stale(format!("*{}", buffer.elem())));
                    }
                    let raw = rt.upload_raw(elem, &encode(buffer)).map_err(|e| e.to_string())?;
                    DeviceValue::Buffer { buffer: raw, elem: buffer.elem() }
                }
                (_, HostValue::Scalar { ty, .. }) => return Err(stale(ty.to_string())),
                (_, HostValue::Buffer { buffer, .. }) => return Err(stale(format!("*{}", buffer.elem()))),
            };
            args.push((param.name.clone(), value));
        }
        if let Some((name, _)) = host.args.iter().find(|(n, _)| !params.iter().any(|p| &p.name == n)) {
            return Err(format!("the sources have a parameter `{name}` the bundle's kernel does not"));
        }
        Ok(DeviceArgs { args })
    }

    /// The launch arguments, by name.
    pub fn launch_args(&self) -> LaunchArgs<'_> {
        self.args.iter().fold(LaunchArgs::new(), |acc, (name, value)| match value {
            DeviceValue::Scalar(s) => acc.arg(name, *s),
            DeviceValue::Buffer { buffer, .. } => acc.arg(name, buffer),
        })
    }

    /// Buffer `name` read back and widened to f64.
    pub fn download(&self, rt: &Runtime, name: &str) -> Result<Vec<f64>, String> {
        let Some((_, DeviceValue::Buffer { buffer, elem })) = self.args.iter().find(|(n, _)| n == name) else {
            return Err(format!("no buffer argument `{name}`"));
        };
        let bytes = rt.download_raw(buffer).map_err(|e| e.to_string())?;
        Ok(decode(*elem, &bytes))
    }
}

/// Raw driver access on device 0's primary context: the runtime's context,
/// so addresses of the runtime's buffers are valid here.
pub struct Driver {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
}

fn driver_error(during: &str) -> impl FnOnce(cudarc::driver::DriverError) -> String + '_ {
    move |e| format!("CUDA error while {during}: {e:?}")
}

impl Driver {
    /// Call after [`open_runtime`] succeeded (the driver is known to load).
    pub fn new() -> Result<Driver, String> {
        let ctx = CudaContext::new(0).map_err(driver_error("retaining the primary context"))?;
        let stream = ctx.new_stream().map_err(driver_error("creating a stream"))?;
        Ok(Driver { ctx, stream })
    }

    /// `bytes` bytes at `offset` of `buffer` (waits for all work).
    pub fn read(&self, buffer: &RawBuffer, offset: usize, bytes: usize) -> Result<Vec<u8>, String> {
        if offset.checked_add(bytes).is_none_or(|end| end > buffer.bytes()) {
            return Err(format!("bytes {offset}..+{bytes} are outside a buffer of {} bytes", buffer.bytes()));
        }
        self.ctx.synchronize().map_err(driver_error("waiting for the device"))?;
        self.ctx.bind_to_thread().map_err(driver_error("binding the context"))?;
        let mut out = vec![0u8; bytes];
        if bytes > 0 {
            // SAFETY: the range lies inside a live allocation (checked above)
            // and the device is idle.
            unsafe { result::memcpy_dtoh_sync(&mut out, buffer.addr() + offset as u64) }
                .map_err(driver_error("copying to the host"))?;
        }
        Ok(out)
    }

    /// Overwrites the start of `buffer` with `bytes`.
    pub fn write(&self, buffer: &RawBuffer, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() > buffer.bytes() {
            return Err(format!("{} bytes do not fit a buffer of {} bytes", bytes.len(), buffer.bytes()));
        }
        self.ctx.synchronize().map_err(driver_error("waiting for the device"))?;
        self.ctx.bind_to_thread().map_err(driver_error("binding the context"))?;
        if !bytes.is_empty() {
            // SAFETY: the allocation holds at least `bytes.len()` bytes.
            unsafe { result::memcpy_htod_sync(buffer.addr(), bytes) }.map_err(driver_error("copying to the device"))?;
        }
        Ok(())
    }

    /// Times `runs` device-to-device copies of all of `src` into `dst`
    /// between CUDA events, writing all of `flush` before each (so neither
    /// buffer starts in L2), after `warmup` untimed copies; every time in ms.
    pub fn time_copies(
        &self,
        dst: &RawBuffer,
        src: &RawBuffer,
        flush: &RawBuffer,
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<f64>, String> {
        let bytes = src.bytes().min(dst.bytes());
        let raw = self.stream.cu_stream();
        let copy = || {
            // SAFETY: both allocations hold at least `bytes` bytes.
            unsafe { result::memcpy_dtod_async(dst.addr(), src.addr(), bytes, raw) }.map_err(driver_error("copying"))
        };
        self.ctx.bind_to_thread().map_err(driver_error("binding the context"))?;
        for _ in 0..warmup {
            copy()?;
        }
        let event =
            || self.ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT)).map_err(driver_error("creating an event"));
        let (begin, end) = (event()?, event()?);
        let mut times = Vec::with_capacity(runs);
        for i in 0..runs {
            self.ctx.bind_to_thread().map_err(driver_error("binding the context"))?;
            // SAFETY: the flush buffer holds `flush.bytes()` bytes.
            unsafe { result::memset_d8_async(flush.addr(), i as u8, flush.bytes(), raw) }
                .map_err(driver_error("flushing the L2 cache"))?;
            begin.record(&self.stream).map_err(driver_error("recording an event"))?;
            copy()?;
            end.record(&self.stream).map_err(driver_error("recording an event"))?;
            times.push(f64::from(begin.elapsed_ms(&end).map_err(driver_error("reading event times"))?));
        }
        Ok(times)
    }
}

/// The median of `times` (NaN when empty).
pub fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_runtime::bundle::{GridExpr, Hints, KernelDecl, Param, VariantInfo};

    pub(crate) fn two_variant_bundle() -> BundleData {
        let decl = KernelDecl {
            name: "k".into(),
            params: vec![Param {
                name: "x".into(),
                kind: ParamKind::Pointer { elem: DType::F32 },
                hints: Hints::default(),
            }],
            const_params: vec![],
            grid: vec![GridExpr::Int(1)],
            tune_space: vec![],
            key: vec![],
            require: vec![],
        };
        let mut w = BundleWriter::new("test", "0");
        w.add_kernel(decl).unwrap();
        for warps in [4, 8] {
            let info = VariantInfo::new("k", "sm_90a", warps);
            w.add_variant("k", info, CodeObjects { ptx: Some(format!("// ptx {warps}")), cubin: None }).unwrap();
        }
        BundleData::from_bytes(&w.to_bytes().unwrap()).unwrap()
    }

    #[test]
    fn a_subset_bundle_keeps_only_the_chosen_variants_and_their_code() {
        let data = two_variant_bundle();
        let bundle = subset_bundle(&data, "k", &|v| v.info.warps == 8).unwrap();
        let variants = &bundle.data().kernel("k").unwrap().variants;
        assert_eq!(variants.len(), 1);
        assert_eq!(variants[0].info.warps, 8);
        assert_eq!(bundle.data().object(variants[0].code.ptx.unwrap()), Some("// ptx 8".as_bytes()));
        assert!(subset_bundle(&data, "nope", &|_| true).unwrap_err().contains("no kernel `nope`"));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn dtypes_map_by_name() {
        assert_eq!(dtype_of(ScalarType::BF16), Some(DType::BF16));
        assert_eq!(dtype_of(ScalarType::I1), Some(DType::I1));
    }
}
