"""`posewarper bench-export`: peak memory and time of `export` and `info` on big projects.

    posewarper bench-export --poses 100000 1000000 --dir /tmp/bench --json export-memory.json

Builds (once, kept in --dir) a project of N poses for each N (one video, 10 people, N/10
frames, every joint labelled, a third of the poses auto-filled) and runs `posewarper export`
(COCO and PoseTrack 2018) and `posewarper info` on it, each in a child process of its own that
reports its peak resident memory (getrusage ru_maxrss) and time. --pythonpath runs the children
under another checkout (PYTHONPATH), to compare before and after on the same files.
--old-format measures a copy of each project in project format 1 instead (as the first release
wrote it): what reading a file that was never upgraded costs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TRACKS = 10

CHILD = """
import resource, sys, time
from posewarper_core.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
seconds = time.perf_counter() - start
print("BENCH", code, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("bench-export", help="measure export and info memory on big projects",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--poses", type=int, nargs="+", default=[100_000], help="project sizes in poses (default 100000)")
    p.add_argument("--dir", type=Path, required=True, help="folder for the projects and exports (kept)")
    p.add_argument("--pythonpath", default=None, help="checkout whose posewarper_core the children run (default ours)")
    p.add_argument("--label", default="this checkout", help="name of the code measured, for the table")
    p.add_argument("--commands", default="coco,posetrack18,info", help="which of coco,posetrack18,info to run")
    p.add_argument("--old-format", action="store_true", help="measure a project format 1 copy of each project")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.set_defaults(run=run)


def build_project(path: Path, poses: int) -> Path:
    """A project of `poses` poses (built once: a million take a few minutes)."""
    import numpy as np

    from ..annotation import Pose, PoseChange, Provenance, Track, Video
    from ..store import ProjectStore

    if path.exists():
        return path
    frames = max(1, poses // TRACKS)
    rng = np.random.default_rng(0)
    samples = []
    for i in range(100):
        pose = Pose.manual(rng.uniform(0, 600, (17, 2)), np.full(17, 2))
        if i % 3 == 0:
            pose.provenance[:] = Provenance.PROPAGATED
            pose.keyframe, pose.method = False, "posewarper"
            pose.confidence[:] = rng.uniform(0.2, 1.0, 17)
        samples.append(pose)
    building = path.with_name(path.name + ".building")
    for leftover in building.parent.glob(building.name + "*"):
        leftover.unlink()
    with ProjectStore.create(building, name="bench") as store:
        video = Video("bench.mp4", num_frames=frames, width=640, height=640, fps=25.0, name="bench")
        video.tracks = {t: Track(t) for t in range(TRACKS)}
        vid = store.add_video(video)
        batch = []
        for f in range(frames):
            for t in range(TRACKS):
                batch.append(PoseChange(vid, f, t, samples[(f * TRACKS + t) % len(samples)]))
            if len(batch) >= 50_000:
                store.apply(batch)
                batch = []
        store.apply(batch)
    os.replace(building, path)
    return path


def format1_copy(project: Path) -> Path:
    """A copy of `project` in project format 1 (no poses_by_track index, no reviewed column),
    made once beside it."""
    import shutil
    import sqlite3

    path = project.with_name(f"{project.stem}_format1{project.suffix}")
    if path.exists():
        return path
    building = path.with_name(path.name + ".building")
    shutil.copyfile(project, building)  # the project is closed: its journal is in the file
    conn = sqlite3.connect(building, isolation_level=None)
    try:
        for statement in ("DROP INDEX poses_by_track", "ALTER TABLE poses DROP COLUMN reviewed",
                          "UPDATE meta SET value = '1' WHERE key = 'schema_version'", "VACUUM"):
            conn.execute(statement)
    finally:
        conn.close()
    os.replace(building, path)
    return path


def measure(argv: list[str], pythonpath: str | None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True)
    line = [x for x in done.stderr.splitlines() if x.startswith("BENCH ")]
    if not line:
        return {"ok": False, "error": done.stderr.strip().splitlines()[-1:] or ["no output"]}
    _, code, seconds, maxrss_kb = line[-1].split()
    return {"ok": code == "0", "seconds": float(seconds), "peak_rss_mb": int(maxrss_kb) / 1024}


def run(args) -> int:
    args.dir.mkdir(parents=True, exist_ok=True)
    wanted = args.commands.split(",")
    rows = []
    print(f"{'code':<16} {'poses':>9} {'command':<12} {'peak RSS MB':>12} {'seconds':>9} {'output MB':>10}")
    for n in args.poses:
        project = build_project(args.dir / f"bench_{n}.pwproj", n)
        if args.old_format:
            project = format1_copy(project)
        for command in wanted:
            out = args.dir / f"out_{n}_{command}.json"
            out.unlink(missing_ok=True)
            argv = (["info", str(project), "--json"] if command == "info"
                    else ["export", str(project), "-o", str(out), "--format", command])
            row = {"code": args.label, "poses": n, "command": command, **measure(argv, args.pythonpath)}
            row["output_mb"] = out.stat().st_size / 1e6 if out.exists() else None
            rows.append(row)
            if row["ok"]:
                size = f"{row['output_mb']:>10.1f}" if row["output_mb"] else f"{'':>10}"
                print(f"{args.label:<16} {n:>9} {command:<12} {row['peak_rss_mb']:>12.0f} {row['seconds']:>9.1f} {size}")
            else:
                print(f"{args.label:<16} {n:>9} {command:<12} failed: {row.get('error')}")
    if args.json:
        from ..atomic_file import replacing

        with replacing(args.json) as f:
            json.dump({"python": sys.version.split()[0], "rows": rows}, f, indent=2)
    return 0
