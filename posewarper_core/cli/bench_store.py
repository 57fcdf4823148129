"""`posewarper bench-store`: how fast the project store saves edits on this machine.

    posewarper bench-store                     # 1,000 set_pose calls, apply() of 10,000 changes
    posewarper bench-store --changes 50000 --json store.json

Measures, in a temporary project (or in --dir): set_pose one call at a time (each its own
committed transaction, as while dragging a joint), one apply() putting --changes poses (as
auto-fill does), one apply() removing them again, opening the project, and delete_track.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def register(subparsers) -> None:
    p = subparsers.add_parser("bench-store", help="measure the project store's edit speed",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set-poses", type=int, default=1000, help="set_pose calls to time (default 1000)")
    p.add_argument("--changes", type=int, default=10_000, help="changes in the timed apply() (default 10000)")
    p.add_argument("--dir", type=Path, default=None, help="folder for the project (default: a temporary one)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        results = bench_store(args.dir, args.set_poses, args.changes)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = bench_store(Path(tmp), args.set_poses, args.changes)
    print(f"{'operation':<34} {'count':>8} {'seconds':>9} {'per second':>11}")
    for row in results["rows"]:
        print(f"{row['operation']:<34} {row['count']:>8} {row['seconds']:>9.3f} {row['count'] / row['seconds']:>11,.0f}")
    lat = results["set_pose_latency_ms"]
    print(f"set_pose latency: median {lat['median']:.2f} ms, 99th percentile {lat['p99']:.2f} ms; "
          f"file {results['file_bytes'] / 1e6:.1f} MB with {args.changes} poses")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def bench_store(folder: Path, set_poses: int, changes: int) -> dict:
    """Time the store's edits in a new project in `folder`; returns rows of (operation, count, seconds)."""
    from ..annotation import Pose, PoseChange, Track, Video
    from ..store import ProjectStore

    path = folder / f"bench-store-{time.time_ns()}.pwproj"
    rng = np.random.default_rng(0)
    frames = max(set_poses, changes)
    poses = [Pose.manual(rng.uniform(0, 600, (17, 2)), np.full(17, 2)) for _ in range(min(frames, 1000))]
    rows = []

    def timed(operation: str, count: int, fn) -> None:
        start = time.perf_counter()
        fn()
        rows.append({"operation": operation, "count": count, "seconds": time.perf_counter() - start})

    with ProjectStore.create(path, name="bench") as store:
        video = Video("bench.mp4", num_frames=frames, width=640, height=360)
        video.tracks = {1: Track(1), 2: Track(2)}
        vid = store.add_video(video)
        latencies = []

        def set_one_by_one():
            for i in range(set_poses):
                start = time.perf_counter()
                store.set_pose(vid, i, 1, poses[i % len(poses)])
                latencies.append(time.perf_counter() - start)

        timed("set_pose, one transaction each", set_poses, set_one_by_one)
        puts = [PoseChange(vid, i, 2, poses[i % len(poses)]) for i in range(changes)]
        timed("apply(), puts in one transaction", changes, lambda: store.apply(puts))
        timed("apply(), removes in one transaction", changes,
              lambda: store.apply(PoseChange(vid, i, 2, None) for i in range(changes)))
        store.apply(puts)
    size = path.stat().st_size
    timed(f"open ({set_poses + changes} poses)", 1, lambda: ProjectStore.open(path).close())
    with ProjectStore.open(path) as store:
        timed(f"delete_track ({changes} poses)", 1, lambda: store.delete_track(vid, 2))
    path.unlink()
    ms = np.array(latencies) * 1000
    return {
        "rows": rows,
        "set_pose_latency_ms": {"median": float(np.median(ms)), "p99": float(np.percentile(ms, 99))},
        "file_bytes": size,
    }
