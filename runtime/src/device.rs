//! The device: driver initialisation, device facts, memory and streams.
//!
//! Only the CUDA driver API is used (through `cudarc`, loading `libcuda` at
//! run time), so a binary built without CUDA runs wherever a driver is
//! installed and reports a clear error where none is.

use crate::args::{ArgValue, IntoArg};
use crate::bundle::DType;
use crate::error::{Error, Result};
use crate::select::Arch;
use cudarc::driver::sys::{self, CUdevice_attribute as Attr};
use cudarc::driver::{CudaContext, CudaStream, DriverError, result};
use half::{bf16, f16};
use std::marker::PhantomData;
use std::sync::Arc;

/// What the runtime needs to know about the device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    pub name: String,
    pub compute_capability: (u32, u32),
    /// The device's exact architecture (`sm_90a` for compute capability 9.0).
    pub arch: Arch,
    /// `cuDriverGetVersion`: 12080 for CUDA 12.8.
    pub driver_version: i32,
    pub sm_count: u32,
    pub l2_bytes: usize,
    /// Largest dynamic shared memory a block may opt into.
    pub max_shared_per_block: u32,
    pub max_threads_per_block: u32,
    pub registers_per_block: u32,
}

/// `CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed)`.
pub(crate) fn describe(e: &DriverError) -> String {
    match (e.error_name(), e.error_string()) {
        (Ok(name), Ok(text)) => format!("{} ({})", name.to_string_lossy(), text.to_string_lossy()),
        _ => format!("CUDA error {}", e.0 as i32),
    }
}

pub(crate) fn driver_err(during: impl Into<String>) -> impl FnOnce(DriverError) -> Error {
    let during = during.into();
    move |e| Error::Driver { during, message: describe(&e) }
}

/// A CUDA device (device 0) with its primary context and a stream.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) ctx: Arc<CudaContext>,
    stream: Stream,
    info: Arc<DeviceInfo>,
    /// 16 zeroed bytes that tensor maps of empty views point at.
    zeroed_line: Arc<std::sync::OnceLock<RawBuffer>>,
    /// Two more streams (made on first use): one for work beside the
    /// runtime's own, and one of the device's greatest priority for the work
    /// that must not wait behind it.
    side_stream: Arc<std::sync::OnceLock<Stream>>,
    priority_stream: Arc<std::sync::OnceLock<Stream>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("info", &self.info).finish()
    }
}

impl Runtime {
    /// Load the driver and open device 0.
    ///
    /// Fails with [`Error::NoDriver`] when `libcuda` cannot be loaded or does
    /// not initialise, and [`Error::NoDevice`] when it sees no GPU.
    pub fn new() -> Result<Runtime> {
        // SAFETY: only tries to dlopen libcuda; no driver call is made.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::NoDriver(
                "the CUDA driver library (libcuda.so.1) was not found; install the NVIDIA driver or add its folder to LD_LIBRARY_PATH".into(),
            ));
        }
        // A driver older than the API version we were built against lacks
        // symbols; cudarc panics on those. Turn that into an error.
        let opened = std::panic::catch_unwind(Runtime::open);
        opened.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the driver library is unusable".into());
            Err(Error::NoDriver(message))
        })
    }

    fn open() -> Result<Runtime> {
        result::init().map_err(|e| Error::NoDriver(format!("cuInit failed: {}", describe(&e))))?;
        let count = result::device::get_count().map_err(|e| Error::NoDevice(describe(&e)))?;
        if count < 1 {
            return Err(Error::NoDevice("the driver reports no GPU".into()));
        }
        let ctx = CudaContext::new(0).map_err(driver_err("creating the context of device 0"))?;
        let attr =
            |a: Attr| ctx.attribute(a).map(|v| v.max(0) as u32).map_err(driver_err("querying device attributes"));
        let (major, minor) = ctx.compute_capability().map_err(driver_err("querying the compute capability"))?;
        let (major, minor) = (major.max(0) as u32, minor.max(0) as u32);
        let mut driver_version = 0;
        // SAFETY: writes one int.
        unsafe { sys::cuDriverGetVersion(&mut driver_version) }
            .result()
            .map_err(driver_err("querying the driver version"))?;
        let info = DeviceInfo {
            name: ctx.name().map_err(driver_err("querying the device name"))?,
            compute_capability: (major, minor),
            arch: Arch::of_device(major, minor),
            driver_version,
            sm_count: attr(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
            l2_bytes: attr(Attr::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as usize,
            max_shared_per_block: attr(Attr::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?,
            max_threads_per_block: attr(Attr::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
            registers_per_block: attr(Attr::CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK)?,
        };
        let stream = Stream(ctx.new_stream().map_err(driver_err("creating a stream"))?);
        Ok(Runtime {
            ctx,
            stream,
            info: Arc::new(info),
            zeroed_line: Arc::default(),
            side_stream: Arc::default(),
            priority_stream: Arc::default(),
        })
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The runtime's own stream, used by `KernelHandle::launch`.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The runtime's second stream, for work that may run beside the work
    /// on its own stream; the same stream on every call.
    pub fn side_stream(&self) -> Result<&Stream> {
        once_stream(&self.side_stream, || self.new_stream())
    }

    /// A stream of the device's greatest priority: when its work and other
    /// streams' work wait for the same multiprocessors, the GPU dispatches
    /// its thread blocks first (it does not preempt blocks already running).
    /// The same stream on every call.
    pub fn priority_stream(&self) -> Result<&Stream> {
        once_stream(&self.priority_stream, || {
            self.ctx.bind_to_thread().map_err(driver_err("binding the context"))?;
            let (_, greatest) =
                result::stream::get_priority_range().map_err(driver_err("reading stream priorities"))?;
            Ok(Stream(self.ctx.new_stream_with_priority(greatest).map_err(driver_err("creating a stream"))?))
        })
    }

    /// A new stream on this device.
    pub fn new_stream(&self) -> Result<Stream> {
        Ok(Stream(self.ctx.new_stream().map_err(driver_err("creating a stream"))?))
    }

    /// Wait for all work on the runtime's stream.
    pub fn synchronize(&self) -> Result<()> {
        self.stream.synchronize()
    }

    /// The address of 16 zeroed bytes of device memory, allocated once.
    pub(crate) fn zeroed_line(&self) -> Result<u64> {
        if let Some(line) = self.zeroed_line.get() {
            return Ok(line.addr());
        }
        let line = self.alloc_raw(DType::I8, 16)?;
        // Zeroed on the runtime's stream; kernels on other streams read it too.
        self.stream.synchronize()?;
        Ok(self.zeroed_line.get_or_init(|| line).addr())
    }

    pub(crate) fn bind(&self) -> Result<()> {
        self.ctx.bind_to_thread().map_err(driver_err("binding the context"))
    }

    /// An uninitialised-free allocation: `len` elements of `elem`, zeroed.
    pub fn alloc_raw(&self, elem: DType, len: usize) -> Result<RawBuffer> {
        let bytes = len.checked_mul(elem.size()).ok_or_else(|| Error::Buffer(format!("{len} x {elem} overflows")))?;
        self.bind()?;
        // cuMemAlloc rejects 0 bytes; an empty buffer still gets a valid address.
        let size = bytes.max(256);
        // SAFETY: a plain allocation, freed by RawBuffer's Drop.
        let ptr = unsafe { result::malloc_sync(size) }.map_err(driver_err(format!("allocating {size} bytes")))?;
        let buffer = RawBuffer { ptr, bytes, elem, len, ctx: self.ctx.clone() };
        // On the runtime's stream, like every copy and fill here: the stream
        // is non-blocking, so work on the legacy default stream (the `_sync`
        // memsets and copies) would not be ordered before its kernels.
        // SAFETY: `ptr` holds `size` bytes.
        unsafe { result::memset_d8_async(ptr, 0, size, self.stream.raw()) }.map_err(driver_err("zeroing a buffer"))?;
        Ok(buffer)
    }

    /// Allocate and fill from little-endian element bytes.
    pub fn upload_raw(&self, elem: DType, bytes: &[u8]) -> Result<RawBuffer> {
        if !bytes.len().is_multiple_of(elem.size()) {
            return Err(Error::Buffer(format!("{} bytes is not a whole number of {elem} elements", bytes.len())));
        }
        let buffer = self.alloc_raw(elem, bytes.len() / elem.size())?;
        if !bytes.is_empty() {
            // SAFETY: the buffer holds at least `bytes.len()` bytes, and
            // `bytes` outlives the copy (the stream is waited for below).
            unsafe { result::memcpy_htod_async(buffer.ptr, bytes, self.stream.raw()) }
                .map_err(driver_err("copying to the device"))?;
            self.synchronize()?;
        }
        Ok(buffer)
    }

    /// Copy a buffer's bytes to the host (waits for the runtime's stream).
    pub fn download_raw(&self, buffer: &RawBuffer) -> Result<Vec<u8>> {
        self.synchronize()?;
        self.bind()?;
        let mut out = vec![0u8; buffer.bytes];
        if !out.is_empty() {
            // SAFETY: the buffer holds `buffer.bytes` bytes, and `out`
            // outlives the copy (the stream is waited for below).
            unsafe { result::memcpy_dtoh_async(&mut out, buffer.ptr, self.stream.raw()) }
                .map_err(driver_err("copying to the host"))?;
            self.synchronize()?;
        }
        Ok(out)
    }

    /// Set every byte of `buffer` to `byte` (0xFF makes every float NaN: a
    /// poisoned output shows each element a kernel did not write), on the
    /// runtime's stream: after the work enqueued before, before the work
    /// enqueued after.
    pub fn fill_bytes(&self, buffer: &RawBuffer, byte: u8) -> Result<()> {
        self.bind()?;
        // SAFETY: the allocation holds at least `bytes` bytes.
        unsafe { result::memset_d8_async(buffer.ptr, byte, buffer.bytes, self.stream.raw()) }
            .map_err(driver_err("filling a buffer"))
    }

    /// Copy `bytes` bytes between device buffers, on the runtime's stream.
    pub fn copy_bytes(&self, dst: &RawBuffer, src: &RawBuffer, bytes: usize) -> Result<()> {
        if bytes > dst.bytes || bytes > src.bytes {
            return Err(Error::Buffer(format!(
                "copy of {bytes} bytes between buffers of {} and {}",
                src.bytes, dst.bytes
            )));
        }
        self.copy_raw(dst.ptr, src.ptr, bytes)
    }

    /// Copy `bytes` bytes between device addresses on the runtime's stream;
    /// the caller vouches that both ranges are live allocations.
    pub(crate) fn copy_raw(&self, dst: u64, src: u64, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: the caller's ranges hold at least `bytes` bytes.
        unsafe { result::memcpy_dtod_async(dst, src, bytes, self.stream.raw()) }
            .map_err(driver_err("copying device memory"))
    }

    /// Milliseconds the device spends on the work `work` enqueues on the
    /// runtime's stream, between two CUDA events.
    pub fn time_ms(&self, work: impl FnOnce() -> Result<()>) -> Result<f32> {
        self.bind()?;
        let event =
            || self.ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(driver_err("creating an event"));
        let (begin, end) = (event()?, event()?);
        begin.record(&self.stream.0).map_err(driver_err("recording an event"))?;
        work()?;
        end.record(&self.stream.0).map_err(driver_err("recording an event"))?;
        end.synchronize().map_err(driver_err("waiting for an event"))?;
        begin.elapsed_ms(&end).map_err(driver_err("reading event times"))
    }

    /// A zeroed typed buffer of `len` elements.
    pub fn alloc_zeros<T: Element>(&self, len: usize) -> Result<DeviceBuffer<T>> {
        Ok(DeviceBuffer { raw: self.alloc_raw(T::DTYPE, len)?, _t: PhantomData })
    }

    /// A typed buffer holding a copy of `data`.
    pub fn upload<T: Element>(&self, data: &[T]) -> Result<DeviceBuffer<T>> {
        let mut bytes = Vec::with_capacity(data.len() * T::DTYPE.size());
        for v in data {
            v.write_le(&mut bytes);
        }
        Ok(DeviceBuffer { raw: self.upload_raw(T::DTYPE, &bytes)?, _t: PhantomData })
    }

    /// Copy a typed buffer to the host.
    pub fn download<T: Element>(&self, buffer: &DeviceBuffer<T>) -> Result<Vec<T>> {
        let bytes = self.download_raw(&buffer.raw)?;
        Ok(bytes.chunks_exact(T::DTYPE.size()).map(T::read_le).collect())
    }
}

/// The stream in `cell`, made by `make` on first use.
fn once_stream(cell: &std::sync::OnceLock<Stream>, make: impl FnOnce() -> Result<Stream>) -> Result<&Stream> {
    if let Some(s) = cell.get() {
        return Ok(s);
    }
    let made = make()?;
    Ok(cell.get_or_init(|| made))
}

/// A stream on which kernels are launched in order.
#[derive(Clone, Debug)]
pub struct Stream(pub(crate) Arc<CudaStream>);

impl Stream {
    pub fn synchronize(&self) -> Result<()> {
        self.0.synchronize().map_err(driver_err("synchronizing a stream"))
    }

    pub(crate) fn raw(&self) -> sys::CUstream {
        self.0.cu_stream()
    }

    /// Work enqueued on this stream from now on waits for the work
    /// enqueued on `other` so far.
    pub fn wait_for(&self, other: &Stream) -> Result<()> {
        self.0.join(&other.0).map_err(driver_err("ordering one stream after another"))
    }
}

/// Device memory holding `len` elements of a runtime-chosen type.
#[derive(Debug)]
pub struct RawBuffer {
    ptr: sys::CUdeviceptr,
    bytes: usize,
    elem: DType,
    len: usize,
    ctx: Arc<CudaContext>,
}

impl RawBuffer {
    pub fn elem(&self) -> DType {
        self.elem
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// The device address.
    pub fn addr(&self) -> u64 {
        self.ptr
    }
}

impl Drop for RawBuffer {
    fn drop(&mut self) {
        // Errors here (a context already torn down) leave nothing to clean.
        if self.ctx.bind_to_thread().is_ok() {
            // SAFETY: allocated by malloc_sync and freed once.
            let _ = unsafe { result::free_sync(self.ptr) };
        }
    }
}

impl IntoArg for &RawBuffer {
    fn into_arg(self) -> ArgValue {
        ArgValue::Pointer { addr: self.ptr, elem: self.elem, len: self.len }
    }
}

/// Device memory holding `len` elements of `T`.
#[derive(Debug)]
pub struct DeviceBuffer<T: Element> {
    raw: RawBuffer,
    _t: PhantomData<T>,
}

impl<T: Element> DeviceBuffer<T> {
    pub fn len(&self) -> usize {
        self.raw.len
    }
    pub fn is_empty(&self) -> bool {
        self.raw.len == 0
    }
    pub fn raw(&self) -> &RawBuffer {
        &self.raw
    }
}

impl<T: Element> IntoArg for &DeviceBuffer<T> {
    fn into_arg(self) -> ArgValue {
        (&self.raw).into_arg()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Host types that have a kernel element type.
pub trait Element: Copy + sealed::Sealed + 'static {
    const DTYPE: DType;
    fn write_le(self, out: &mut Vec<u8>);
    /// Decode from exactly `DTYPE.size()` bytes.
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&bytes[..std::mem::size_of::<$t>()]);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
element!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, f16 => F16, bf16 => BF16, f32 => F32, f64 => F64);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::I1;
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn read_le(bytes: &[u8]) -> Self {
        bytes.first().is_some_and(|b| *b != 0)
    }
}
