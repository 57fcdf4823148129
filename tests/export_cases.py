"""Varied videos for the exporters' byte-for-byte test (test_export_stream.py) and the script
that wrote its expected files with the writers as they were before exports were streamed:

    PYTHONPATH=<checkout> python tests/export_cases.py tests/data/export_golden
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import numpy as np

from posewarper_core import FrameRef, Pose, Provenance, Track, Video
from posewarper_core.skeleton import POSETRACK17

FIXED_TIME = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def varied_videos() -> list[Video]:
    """Three videos with every kind of pose an export meets: keyframes, auto-filled and corrected
    joints, occluded and missing joints, boxes given or not, methods, ignore regions, frames
    declared labelled without poses, image files with ids or a video file, a non-ASCII name."""
    rng = np.random.default_rng(7)
    j = POSETRACK17.num_joints
    videos = []
    for n, (name, frames, tracks) in enumerate([("Sprint – heat 1", 30, 3), ("clip", 12, 1), ("imgs", 9, 2)], 1):
        video = Video(f"{name}.mp4" if n < 3 else "imgs", frames, 640, 360, fps=25.0 if n != 2 else None, name=name,
                      video_id=n * 3, keyframe_stride=5, vid_id=None if n == 1 else f"00{n}42")
        if n == 3:
            video.frames = [FrameRef(f"imgs/{i:06d}.jpg", 1000 + i, 5000 + i) for i in range(frames)]
        video.tracks = {t: Track(t, f"person {t}" if t else "") for t in range(tracks)}
        video.labelled_frames = {0, 5, frames - 1}
        video.ignore_regions = {5: [np.array([[1.5, 2.0], [40, 2], [20, 30.25]])]}
        for f in range(frames):
            for t in range(tracks):
                if rng.random() < 0.25:
                    continue
                vis = rng.integers(0, 3, j).astype(np.uint8)
                prov = np.where(vis > 0, rng.choice([Provenance.MANUAL, Provenance.PROPAGATED, Provenance.INTERPOLATED,
                                                     Provenance.CORRECTED], j), Provenance.NONE).astype(np.uint8)
                if f % 5 == 0:
                    prov = np.where(vis > 0, Provenance.MANUAL, Provenance.NONE).astype(np.uint8)
                pose = Pose(xy=np.where(vis[:, None] > 0, rng.uniform(0, 350, (j, 2)), 0.0), visibility=vis,
                            provenance=prov,
                            confidence=np.where(vis > 0, rng.uniform(0, 1, j), 0.0).astype(np.float32),
                            keyframe=f % 5 == 0, method=None if f % 5 == 0 else ["flow", "posewarper"][f % 2],
                            bbox=(10.0, 20.5, 100.0, 200.0) if f % 3 == 0 else None,
                            head_box=(30.0, 20.0, 25.5, 30.0) if f % 4 == 0 else None,
                            reviewed=f % 5 == 2)  # a filled pose an annotator accepted
                video.set_pose(f, t, pose)
        videos.append(video)
    return videos


def golden_files(write_coco, write_posetrack18, out: Path) -> list[Path]:
    """Write every export case into `out` with the given writers; returns the files."""
    videos = varied_videos()
    files = []
    for include_auto in (True, False):
        suffix = "all" if include_auto else "no_auto"
        files.append(out / f"coco_{suffix}.json")
        write_coco(files[-1], POSETRACK17, videos, include_auto=include_auto, base_dir="/data")
        for video in videos:
            files.append(out / f"pt_{video.video_id}_{suffix}.json")
            write_posetrack18(files[-1], POSETRACK17, video, include_auto=include_auto, base_dir="/data")
    return files


class FixedClock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_TIME


if __name__ == "__main__":
    from posewarper_core.formats import coco, write_coco, write_posetrack18

    coco.datetime = type("FixedDatetime", (), {"datetime": FixedClock, "timezone": datetime.timezone})
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for path in golden_files(write_coco, write_posetrack18, target):
        print(path, path.stat().st_size)
