"""`posewarper bench-deform`: torchvision's deformable convolution against our grid_sample path.

Measures PoseWarper's deformable warp (five 3x3 deformable convolutions, 17 offset groups,
dilations 3, 6, 12, 18, 24, averaged) forward and forward+backward, and the forward time of a
full warping head (trunk + offset convolutions + warp). Machines are often shared and noisy:
the best of several runs is kept, with one thread as the process's CPU time (what the work
costs, far less disturbed by other jobs than wall time), with more threads as wall time; the
ratios are taken within the same run. Offsets and kernels get gradients (as in training,
where the warped heatmaps come from a frozen backbone).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DILATIONS = (3, 6, 12, 18, 24)


def _clock() -> float:
    """Wall time with several threads; with one thread the process's CPU time, which is what
    the work costs and is far less disturbed by other jobs on a shared machine."""
    import torch  # imported here, not at the top: every `posewarper` command imports this module (+650 MB, 2 s)

    return time.process_time() if torch.get_num_threads() == 1 else time.perf_counter()


def _best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = _clock()
        fn()
        best = min(best, _clock() - start)
    return best * 1000.0


def _warp_inputs(batch: int, size: tuple[int, int], joints: int = 17, seed: int = 0):
    import torch

    gen = torch.Generator().manual_seed(seed)
    h, w = size
    x = torch.rand(batch, joints, h, w, generator=gen)
    offsets = [(torch.randn(batch, 2 * joints * 9, h, w, generator=gen) * 4.0).requires_grad_()
               for _ in DILATIONS]
    weights = [(torch.randn(joints, joints, 3, 3, generator=gen) * 0.1).requires_grad_()
               for _ in DILATIONS]
    return x, offsets, weights


def _warp_fn(impl: str, x, offsets, weights):
    from ..nets.deform import deform_conv2d

    def run():
        out = 0.0
        for off, weight, d in zip(offsets, weights, DILATIONS):
            out = out + 0.2 * deform_conv2d(x, off, weight, None, 1, d, d, impl=impl)
        return out

    return run


def _forward_backward(run, leaves):
    def step():
        for t in leaves:  # fresh gradients each time, so no accumulation is timed
            t.grad = None
        run().sum().backward()
    return step


def bench_warp(batch: int, size: tuple[int, int], repeats: int, threads: int) -> dict:
    """Times torchvision and the grid path on the five-dilation warp; returns one table row."""
    import torch

    torch.set_num_threads(threads)
    x, offsets, weights = _warp_inputs(batch, size)
    fns = {impl: _warp_fn(impl, x, offsets, weights) for impl in ("torchvision", "grid")}
    row = {"batch": batch, "height": size[0], "width": size[1], "threads": threads}
    for impl, run in fns.items():
        with torch.no_grad():
            row[f"{impl}_fwd_ms"] = _best_ms(run, repeats)
    # forward+backward: gradients for offsets and kernels (the warped heatmaps come from a
    # frozen backbone in training, as in the official stage 2, so they need none)
    tv_reps = max(1, repeats // 2)
    row["torchvision_fwdbwd_ms"] = _best_ms(_forward_backward(fns["torchvision"], offsets + weights), tv_reps)
    row["grid_fwdbwd_ms"] = _best_ms(_forward_backward(fns["grid"], offsets + weights), repeats)
    row["fwd_speedup"] = row["torchvision_fwd_ms"] / row["grid_fwd_ms"]
    row["fwdbwd_speedup"] = row["torchvision_fwdbwd_ms"] / row["grid_fwdbwd_ms"]
    return row


def bench_heads(repeats: int, thread_counts) -> list[dict]:
    """Forward time of the official warping head and a light one (propagation: one warp)."""
    import torch

    from ..nets import OFFICIAL_CONFIG, LIGHT_CONFIGS
    from ..nets.warper import WarpingHead

    rows = []
    configs = [("official 20x128", OFFICIAL_CONFIG), ("light", LIGHT_CONFIGS["mobilenet_v2"])]
    for label, cfg in configs:
        head = WarpingHead(cfg.num_joints, cfg.head_channels, cfg.head_blocks, cfg.dilations).eval()
        h, w = cfg.heatmap_size[1], cfg.heatmap_size[0]
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for batch in (1, 8):
                diff = torch.randn(batch, cfg.num_joints, h, w)
                src = torch.rand(batch, cfg.num_joints, h, w)
                with torch.no_grad():
                    ms = _best_ms(lambda: head(diff, src), max(2, repeats // 2))
                rows.append({"head": label, "blocks": cfg.head_blocks,
                             "channels": cfg.head_channels, "height": h, "width": w,
                             "batch": batch, "threads": threads, "fwd_ms": ms})
    return rows


def run(args) -> int:
    import torch

    threads = [int(t) for t in args.threads.split(",")]
    sizes = [(96, 72), (64, 48)]
    warp_rows = []
    print("Deformable warp: 5 x DCN 3x3, 17 offset groups, dilations 3/6/12/18/24, averaged")
    print(f"{'size':>7} {'batch':>5} {'thr':>3} | {'tv fwd':>8} {'ours fwd':>8} {'x':>5} | "
          f"{'tv f+b':>8} {'ours f+b':>8} {'x':>5}")
    for t in threads:
        for size in sizes:
            for batch in (1, 8):
                if args.quick and batch == 8:
                    continue
                r = bench_warp(batch, size, args.repeats, t)
                warp_rows.append(r)
                print(f"{size[0]:>3}x{size[1]:<3} {batch:>5} {t:>3} | {r['torchvision_fwd_ms']:>8.1f} "
                      f"{r['grid_fwd_ms']:>8.1f} {r['fwd_speedup']:>5.1f} | "
                      f"{r['torchvision_fwdbwd_ms']:>8.1f} {r['grid_fwdbwd_ms']:>8.1f} "
                      f"{r['fwdbwd_speedup']:>5.1f}", flush=True)
    head_rows = []
    if not args.no_heads:
        print("\nWarping head forward (trunk + offset convs + warp), ms")
        print(f"{'head':>16} {'blocks':>6} {'ch':>4} {'size':>7} {'batch':>5} {'thr':>3} {'ms':>8}")
        head_rows = bench_heads(args.repeats, threads)
        for r in head_rows:
            print(f"{r['head']:>16} {r['blocks']:>6} {r['channels']:>4} {r['height']:>3}x{r['width']:<3} "
                  f"{r['batch']:>5} {r['threads']:>3} {r['fwd_ms']:>8.1f}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"torch": torch.__version__, "warp": warp_rows,
                                   "heads": head_rows}, indent=2))
        print(f"\nwrote {out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench-deform",
        help="time torchvision's deformable conv against ours (CPU), and the warping heads",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", metavar="OUT", help="also write the numbers as JSON")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per case (best is kept)")
    p.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    p.add_argument("--quick", action="store_true", help="batch 1 only")
    p.add_argument("--no-heads", action="store_true", help="skip the warping-head timings")
    p.set_defaults(run=run)
