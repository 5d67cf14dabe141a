#!/usr/bin/env python3
"""Peer anchors for tessera-bench, measured in the same run on the same card.

torch.matmul (cuBLAS) and a Triton 3.6 matmul written here (plain tiled, grouped
ordering, small autotune), Triton softmax and layer norm (one row per program)
against torch's, over the shapes tessera-bench uses, and the device-to-device
copy bandwidth. Timings are medians of triton.testing.do_bench (CUDA events,
L2 cleared before every run). Every output is first checked against torch in
float64; a wrong result is reported and not timed.

Usage: peers.py [--json FILE] [--matmul 4096,8192] [--cols 4096,8192,16384,32768]
                [--tensor-mib 256] [--copy-mib 1024]
Self-contained: needs only torch and triton.
"""

import argparse
import json
import sys

import torch
import triton
import triton.language as tl
from triton.testing import do_bench


# ----------------------------------------------------------------------------- matmul

MATMUL_CONFIGS = [
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "GROUP_M": 8}, num_warps=8, num_stages=4),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "GROUP_M": 8}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_M": 256, "BLOCK_N": 128, "BLOCK_K": 64, "GROUP_M": 8}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64, "GROUP_M": 8}, num_warps=4, num_stages=4),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 32, "GROUP_M": 8}, num_warps=4, num_stages=4),
    triton.Config({"BLOCK_M": 64, "BLOCK_N": 256, "BLOCK_K": 32, "GROUP_M": 8}, num_warps=4, num_stages=4),
]


@triton.autotune(configs=MATMUL_CONFIGS, key=["M", "N", "K"])
@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                  stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
    pid_n = (pid % num_pid_in_group) // group_size_m
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_mask = offs_k < K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & k_mask[None, :], other=0.0)
        b = tl.load(b_ptrs, mask=k_mask[:, None] & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(tl.bfloat16), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def triton_matmul(a, b):
    M, K = a.shape
    _, N = b.shape
    c = torch.empty((M, N), device=a.device, dtype=torch.bfloat16)
    grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)
    matmul_kernel[grid](a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1))
    return c


# ----------------------------------------------------------------------------- softmax, layer norm

@triton.autotune(configs=[triton.Config({}, num_warps=w) for w in (4, 8, 16, 32)], key=["n_cols"])
@triton.jit
def softmax_kernel(x_ptr, y_ptr, x_row_stride, y_row_stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=-float("inf")).to(tl.float32)
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(y_ptr + row * y_row_stride + offs, (num / tl.sum(num, axis=0)).to(y_ptr.dtype.element_ty), mask=mask)


def triton_softmax(x):
    rows, cols = x.shape
    y = torch.empty_like(x)
    softmax_kernel[(rows,)](x, y, x.stride(0), y.stride(0), cols, BLOCK=triton.next_power_of_2(cols))
    return y


LN_CONFIGS = [triton.Config({"BLOCK": b}, num_warps=w) for b in (1024, 4096, 8192) for w in (4, 8, 16)]


@triton.autotune(configs=LN_CONFIGS, key=["n_cols"])
@triton.jit
def layer_norm_kernel(x_ptr, y_ptr, w_ptr, b_ptr, mean_ptr, rstd_ptr, x_row_stride, y_row_stride, n_cols, eps,
                      BLOCK: tl.constexpr):
    row = tl.program_id(0)
    x_row = x_ptr + row * x_row_stride
    y_row = y_ptr + row * y_row_stride
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        c = start + tl.arange(0, BLOCK)
        acc += tl.load(x_row + c, mask=c < n_cols, other=0.0).to(tl.float32)
    mean = tl.sum(acc, axis=0) / n_cols
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        c = start + tl.arange(0, BLOCK)
        xv = tl.load(x_row + c, mask=c < n_cols, other=0.0).to(tl.float32)
        xv = tl.where(c < n_cols, xv - mean, 0.0)
        acc += xv * xv
    rstd = 1 / tl.sqrt(tl.sum(acc, axis=0) / n_cols + eps)
    tl.store(mean_ptr + row, mean)
    tl.store(rstd_ptr + row, rstd)
    for start in range(0, n_cols, BLOCK):
        c = start + tl.arange(0, BLOCK)
        mask = c < n_cols
        xv = tl.load(x_row + c, mask=mask, other=0.0).to(tl.float32)
        wv = tl.load(w_ptr + c, mask=mask, other=0.0).to(tl.float32)
        bv = tl.load(b_ptr + c, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + c, ((xv - mean) * rstd * wv + bv).to(y_ptr.dtype.element_ty), mask=mask)


def triton_layer_norm(x, w, b, eps):
    rows, cols = x.shape
    y = torch.empty_like(x)
    mean = torch.empty(rows, device=x.device, dtype=torch.float32)
    rstd = torch.empty(rows, device=x.device, dtype=torch.float32)
    layer_norm_kernel[(rows,)](x, y, w, b, mean, rstd, x.stride(0), y.stride(0), cols, eps)
    return y


# ----------------------------------------------------------------------------- harness

def rel_error(got, want):
    """Relative Frobenius error in float64; inf if anything is not finite."""
    got = got.double()
    if not torch.isfinite(got).all():
        return float("inf")
    return ((got - want).norm() / want.norm()).item()


def median_ms(fn):
    return do_bench(fn, warmup=25, rep=200, return_mode="median")


def measure(name, fn, want, tol, work, unit, results, extra=None):
    """Checks fn() against want (float64), then times it; appends a row."""
    row = {"name": name, "unit": unit}
    row.update(extra or {})
    try:
        err = rel_error(fn(), want)
    except Exception as e:  # a peer failing to compile is a result too
        row.update({"status": f"failed: {type(e).__name__}: {e}"})
        results.append(row)
        print(f"  {name:<34} FAILED: {e}", flush=True)
        return row
    row["rel_error"] = err
    if not err <= tol:
        row["status"] = f"wrong: relative error {err:.2e} > {tol:.0e}"
        print(f"  {name:<34} WRONG (relative error {err:.2e})", flush=True)
    else:
        ms = median_ms(fn)
        rate = work / (ms * 1e-3) / (1e12 if unit == "TFLOP/s" else 1e9)
        row.update({"status": "ok", "time_ms": ms, "rate": rate})
        print(f"  {name:<34} {ms:9.4f} ms {rate:9.1f} {unit}  (rel err {err:.1e})", flush=True)
    results.append(row)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json")
    p.add_argument("--matmul", default="4096,8192")
    p.add_argument("--cols", default="4096,8192,16384,32768")
    p.add_argument("--tensor-mib", type=int, default=256)
    p.add_argument("--copy-mib", type=int, default=1024)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA device visible to torch", file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    torch.manual_seed(0)
    props = torch.cuda.get_device_properties(dev)
    print(f"peers: {props.name}, torch {torch.__version__}, triton {triton.__version__}", flush=True)
    results = []

    nbytes = args.copy_mib << 20
    src = torch.empty(nbytes, dtype=torch.uint8, device=dev).random_(0, 255)
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src))
    copy_gbps = 2 * nbytes / (ms * 1e-3) / 1e9
    print(f"copy: {args.copy_mib} MiB, {ms:.3f} ms, {copy_gbps:.0f} GB/s (read + write)", flush=True)
    results.append({"name": "copy", "unit": "GB/s", "status": "ok", "time_ms": ms, "rate": copy_gbps, "bytes": nbytes})
    del src, dst

    print("matmul bf16 (f32 accumulate)", flush=True)
    for size in [int(s) for s in args.matmul.split(",") if s]:
        a = torch.rand(size, size, device=dev).mul_(2).sub_(1).to(torch.bfloat16)
        b = torch.rand(size, size, device=dev).mul_(2).sub_(1).to(torch.bfloat16)
        want = a.double() @ b.double()
        shape = {"m": size, "n": size, "k": size}
        flops = 2 * size ** 3
        measure(f"torch.matmul {size}^3", lambda: a @ b, want, 1e-2, flops, "TFLOP/s", results, shape)
        row = measure(f"triton matmul {size}^3", lambda: triton_matmul(a, b), want, 1e-2, flops, "TFLOP/s", results, shape)
        best = getattr(matmul_kernel, "best_config", None)
        if best is not None:
            row["config"] = str(best)
            print(f"    triton pick: {best}", flush=True)
        del a, b, want
        torch.cuda.empty_cache()

    print(f"row-wise bf16, GB/s (input read once + output written once), ratio to copy {copy_gbps:.0f} GB/s",
          flush=True)
    for cols in [int(c) for c in args.cols.split(",") if c]:
        rows = max(1, (args.tensor_mib << 20) // (cols * 2))
        x = torch.randn(rows, cols, device=dev).mul_(3).to(torch.bfloat16)
        w = (torch.rand(cols, device=dev) * 0.6 + 0.7).to(torch.bfloat16)
        bias = (torch.rand(cols, device=dev) - 0.5).to(torch.bfloat16)
        moved = 2 * rows * cols * 2
        shape = {"rows": rows, "cols": cols, "bytes": moved}
        want = torch.softmax(x.double(), dim=-1)
        for name, fn in [("torch softmax", lambda: torch.softmax(x, dim=-1)), ("triton softmax", lambda: triton_softmax(x))]:
            row = measure(f"{name} {rows}x{cols}", fn, want, 1e-2, moved, "GB/s", results, dict(shape, kernel=name))
            if "rate" in row:
                row["ratio_to_copy"] = row["rate"] / copy_gbps
        del want
        eps = 1e-5
        want = torch.nn.functional.layer_norm(x.double(), (cols,), w.double(), bias.double(), eps)
        for name, fn in [
            ("torch layer_norm", lambda: torch.nn.functional.layer_norm(x, (cols,), w, bias, eps)),
            ("triton layer_norm", lambda: triton_layer_norm(x, w, bias, eps)),
        ]:
            row = measure(f"{name} {rows}x{cols}", fn, want, 1e-2, moved, "GB/s", results, dict(shape, kernel=name))
            if "rate" in row:
                row["ratio_to_copy"] = row["rate"] / copy_gbps
        del x, want
        torch.cuda.empty_cache()

    doc = {
        "device": props.name,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "method": "triton.testing.do_bench median (warmup 25 ms, rep 200 ms, L2 cleared per run)",
        "copy_gbps": copy_gbps,
        "results": results,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"wrote {args.json}")
    wrong = [r for r in results if r.get("status") != "ok"]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
