"""Peers of Tessera's Lightning Attention-2, timed in the same call as ours
(tests/gpu/lightning.sh): lightning-attn 0.0.5 (`la2`), fla-core 0.6.0
(`fla`), torch SDPA causal (`sdpa`, softmax attention, for context), and the
device-to-device copy bandwidth. bf16, decay s ~ U(0.01, 0.11) per head.
Medians of triton.testing.do_bench (CUDA events, L2 cleared before each run).
fwd+bwd = forward, then torch.autograd.grad of q, k, v.

Each row is written to OUT.json as soon as it is measured, so a call that
runs out of time keeps the shapes it finished. `first_s` is the wall time of
a peer's first call at a shape (Triton compiling and autotuning included; on
a warm machine the Triton cache of an earlier call may serve it).

Usage: python3 la_peers.py OUT.json   (LA_PEER_SHAPES=N: the first N shapes only;
LA_PEER_FROM=I: skip the first I, to resume in a second call)
"""
import json
import os
import sys
import time

import torch
import triton

SHAPES = [
    (8, 16, 2048, 128), (4, 16, 8192, 128), (2, 16, 32768, 128), (1, 16, 65536, 128), (4, 16, 8192, 64),
    (64, 16, 2048, 128), (16, 16, 8192, 128), (4, 16, 32768, 128), (1, 16, 131072, 128),
]
SDPA_SHAPES = SHAPES[:5]
SHAPES = SHAPES[int(os.environ.get("LA_PEER_FROM", 0)):int(os.environ.get("LA_PEER_SHAPES", len(SHAPES)))]


def bench(fn):
    return triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")


def copy_gbps():
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src))
    return 2 * src.numel() / (ms * 1e-3) / 1e9


def first_call_s(fn):
    """Wall time of one call, synchronized (the first: compile and autotune included)."""
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t


def main():
    out = open(sys.argv[1], "w")

    def emit(row):
        print(row, flush=True)
        out.write(json.dumps(row) + "\n")
        out.flush()

    from lightning_attn.ops.triton.lightning_attn2 import lightning_attn2
    from fla.ops.simple_gla import chunk_simple_gla

    emit({"copy_gbps": copy_gbps()})
    torch.manual_seed(0)
    for (b, h, n, d) in SHAPES:
        row = {"b": b, "h": h, "n": n, "d": d}
        s = (torch.rand(h, device="cuda") * 0.1 + 0.01).float()
        q, k, v, do = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16) for _ in range(4))
        qs, ks, vs = (x.clone().requires_grad_(True) for x in (q, k, v))

        def la2_f():
            return lightning_attn2(q, k, v, s.view(h, 1, 1))

        def la2_fb():
            o = lightning_attn2(qs, ks, vs, s.view(h, 1, 1))
            return torch.autograd.grad(o, (qs, ks, vs), do)

        qf, kf, vf, dof = (x.transpose(1, 2).contiguous() for x in (q, k, v, do))
        qfs, kfs, vfs = (x.clone().requires_grad_(True) for x in (qf, kf, vf))

        def fla_f():
            return chunk_simple_gla(qf, kf, vf, g_gamma=-s, scale=1.0)

        def fla_fb():
            o, _ = chunk_simple_gla(qfs, kfs, vfs, g_gamma=-s, scale=1.0)
            return torch.autograd.grad(o, (qfs, kfs, vfs), dof)

        for name, fn in [("la2_fwd", la2_f), ("la2_fwdbwd", la2_fb), ("fla_fwd", fla_f), ("fla_fwdbwd", fla_fb)]:
            try:
                row[name + "_first_s"] = first_call_s(fn)
                row[name] = bench(fn)
            except Exception as e:  # noqa: BLE001 - a peer failing is a result to report
                row[name] = None
                row[name + "_error"] = repr(e)[:200]
        if (b, h, n, d) in SDPA_SHAPES:
            import torch.nn.functional as F
            row["sdpa_fwd"] = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))

            def sdpa_fb():
                o = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True)
                return torch.autograd.grad(o, (qs, ks, vs), do)
            row["sdpa_fwdbwd"] = bench(sdpa_fb)
        emit(row)
        del q, k, v, do, qs, ks, vs, qf, kf, vf, dof, qfs, kfs, vfs
        torch.cuda.empty_cache()
    out.close()


if __name__ == "__main__":
    main()
