"""Merges ours.json (examples/lightning_attention.rs bench) and peers.json
(la_peers.py) from one warm machine into a markdown table and a plot of time
per token against n (the d = e = 128 benchmark shapes with the peers, and our
constant-speed sweep at b*n = 131072).

Usage: python3 la_report.py OURS.json PEERS.json TABLE.md PLOT.png
"""
import json
import sys


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def main():
    ours, peers, table_path, plot_path = sys.argv[1:5]
    ours, peers = load(ours), load(peers)
    key = lambda r: (r["b"], r["h"], r["n"], r["d"])  # noqa: E731
    p = {key(r): r for r in peers if "b" in r}
    bw_ours = next(r["copy_gbps"] for r in ours if "copy_gbps" in r)
    bw_peers = next(r["copy_gbps"] for r in peers if "copy_gbps" in r)
    first = next((r for r in ours if "first_call_s" in r), None)
    # Our pre-passes read only the tokens a decay reaches, so our times
    # depend on the decays (older runs did not record them).
    decay = next((r["max_decay"] for r in ours if "max_decay" in r), None)
    lines = [
        f"Copy bandwidth: {bw_ours:.0f} GB/s (ours, cuMemcpyDtoD) and {bw_peers:.0f} GB/s (torch copy_, in the peers' run).",
        "",
    ]
    if decay is not None:
        lines += [f"Our decays: s ~ U(0, {decay:g}) per head (0: no decay, every token within reach).", ""]
    lines += [
        "| b | h | n | d=e | floor fwd | ours fwd | la2 fwd | fla fwd | sdpa fwd | floor fwd+bwd | ours fwd+bwd | la2 fwd+bwd | fla fwd+bwd | sdpa fwd+bwd |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(v, ours_v=None, floor=None):
        if v is None:
            return "n/a"
        if floor is not None:
            return f"{v:.3f} ({v / floor:.2f}x)"
        return f"{v:.3f} ({v / ours_v:.2f}x ours)"

    for r in ours:
        if "b" not in r:
            continue
        q = p.get(key(r), {})
        ff, fb = r["floor_fwd_ms"], r["floor_fwdbwd_ms"]
        lines.append(
            f"| {r['b']} | {r['h']} | {r['n']} | {r['d']} | {ff:.3f} | {cell(r['fwd_ms'], floor=ff)} | "
            f"{cell(q.get('la2_fwd'), r['fwd_ms'])} | {cell(q.get('fla_fwd'), r['fwd_ms'])} | "
            f"{cell(q.get('sdpa_fwd'), r['fwd_ms']) if 'sdpa_fwd' in q else '-'} | {fb:.3f} | "
            f"{cell(r['fwdbwd_ms'], floor=fb)} | {cell(q.get('la2_fwdbwd'), r['fwdbwd_ms'])} | "
            f"{cell(q.get('fla_fwdbwd'), r['fwdbwd_ms'])} | "
            f"{cell(q.get('sdpa_fwdbwd'), r['fwdbwd_ms']) if 'sdpa_fwdbwd' in q else '-'} |"
        )
    if first:
        lines += ["", f"First call at (4, 16, 8192, 128), empty tuning cache, forward+backward: {first['first_call_s']:.3f} s; "
                  f"second call {first['second_call_s'] * 1e3:.1f} ms; new handles on the warm cache {first['warm_cache_s'] * 1e3:.1f} ms."]
    sweep = [r for r in ours if "b" in r and r["b"] * r["n"] == 131072]
    if sweep:
        # b*n is fixed, so each time is proportional to the time per token.
        lines += ["", "Constant speed (b*n = 131072, h=16, d=e=128; time per token follows the time):", ""]
        base = sweep[0]
        for r in sweep:
            lines.append(
                f"- n={r['n']}: ours fwd+bwd {r['fwdbwd_ms']:.3f} ms ({r['fwdbwd_ms'] / base['fwdbwd_ms']:.3f} of n={base['n']}), "
                f"fwd {r['fwd_ms']:.3f} ms ({r['fwd_ms'] / base['fwd_ms']:.3f})"
            )
        for what, name in [("fwdbwd", "fwd+bwd"), ("fwd", "fwd")]:
            times = [r[f"{what}_ms"] for r in sweep]
            lines.append(f"- {name}: slowest / fastest = {max(times) / min(times):.3f}")
    open(table_path, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        # Time per token against n: the d = e = 128 benchmark shapes (each
        # with its peers) and the constant-speed sweep at b*n = 131072.
        bench = sorted((r for r in ours if "b" in r and r["d"] == 128 and r not in sweep), key=lambda r: r["n"])
        per_k = lambda ms, r: ms * 1e3 / (r["b"] * r["h"] * r["n"] / 1e3)  # noqa: E731  us per 1k tokens (all heads)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, what in zip(axes, ["fwd", "fwdbwd"]):
            ns = [r["n"] for r in bench]
            ax.plot(ns, [per_k(r[f"{what}_ms"], r) for r in bench], "o-", label="tessera")
            for peer, name in [("la2", "lightning-attn 0.0.5"), ("fla", "fla-core 0.6.0")]:
                pts = [(r["n"], p.get(key(r), {}).get(f"{peer}_{what}")) for r in bench]
                pts = [(n, per_k(v, r)) for (n, v), r in zip(pts, bench) if v is not None]
                if pts:
                    ax.plot([n for n, _ in pts], [v for _, v in pts], "s--", label=name)
            if sweep:
                ax.plot([r["n"] for r in sweep], [per_k(r[f"{what}_ms"], r) for r in sweep], "^:",
                        label="tessera, b*n = 131072")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("sequence length n (h = 16, d = e = 128, bf16)")
            ax.set_ylabel("us per 1k tokens (all heads)")
            ax.set_title("forward" if what == "fwd" else "forward + backward")
            ax.legend()
            ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(plot_path, dpi=110)
    except Exception as e:  # noqa: BLE001
        print("plot failed:", e)


if __name__ == "__main__":
    main()
