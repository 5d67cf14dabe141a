//! Loading one variant's code object into the device's context.

use crate::device::describe;
use crate::select::CodeKind;
use cudarc::driver::CudaContext;
use cudarc::driver::sys::{self, CUjit_option};
use std::ffi::{CString, c_void};
use std::sync::Arc;

/// A loaded module and its entry point; unloaded on drop.
#[derive(Debug)]
pub(crate) struct Loaded {
    module: sys::CUmodule,
    pub function: sys::CUfunction,
    ctx: Arc<CudaContext>,
}

// SAFETY: CUDA modules and functions may be used from any thread once the
// owning context is current there (the runtime binds it before every call).
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

impl Drop for Loaded {
    fn drop(&mut self) {
        if self.ctx.bind_to_thread().is_ok() {
            // SAFETY: loaded by `load` and unloaded once.
            let _ = unsafe { cudarc::driver::result::module::unload(self.module) };
        }
    }
}

/// Load `image` (PTX text or a cubin) and look up `entry`. The error is the
/// driver's message plus the JIT log, which names the PTX line at fault.
pub(crate) fn load(ctx: &Arc<CudaContext>, image: &[u8], kind: CodeKind, entry: &str) -> Result<Loaded, String> {
    ctx.bind_to_thread().map_err(|e| describe(&e))?;
    // PTX must be NUL-terminated; a cubin is an ELF image read as is.
    let mut data = image.to_vec();
    if kind == CodeKind::Ptx {
        data.push(0);
    }
    let mut log = vec![0u8; 16 * 1024];
    let mut options = [CUjit_option::CU_JIT_ERROR_LOG_BUFFER, CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES];
    let mut values = [log.as_mut_ptr().cast::<c_void>(), log.len() as *mut c_void];
    let mut module: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: `data` outlives the call; the log buffer and its size are passed
    // as the driver documents (the size as a pointer-sized integer).
    let status = unsafe {
        sys::cuModuleLoadDataEx(
            &mut module,
            data.as_ptr().cast::<c_void>(),
            options.len() as u32,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    if let Err(e) = status.result() {
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let log = String::from_utf8_lossy(&log[..end]);
        let log = log.trim();
        let e = describe(&e);
        return Err(if log.is_empty() { e } else { format!("{e}; JIT log: {}", log.replace('\n', " | ")) });
    }
    // Owned from here on, so an error below unloads it.
    let mut loaded = Loaded { module, function: std::ptr::null_mut(), ctx: ctx.clone() };
    let name = CString::new(entry).map_err(|_| format!("entry point `{entry}` contains a NUL byte"))?;
    // SAFETY: `module` is loaded; the name is NUL-terminated.
    loaded.function = unsafe { cudarc::driver::result::module::get_function(module, name) }
        .map_err(|e| format!("entry point `{entry}` not found in the module: {}", describe(&e)))?;
    Ok(loaded)
}
