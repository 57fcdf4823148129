"""The demo project: the bundled Sports2D clip with both people labelled on every 10th frame
(our own annotation, resources/demo/sports2d_demo_labels.json), so a new user sees auto-fill
at once. Built in a user-writable place and rebuilt when missing."""
from __future__ import annotations

import json
import os
from pathlib import Path

from posewarper_core.annotation import Pose, Track
from posewarper_core.skeleton import get_skeleton
from posewarper_core.store import ProjectStore

from .opening import video_from_media

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "demo"
LABELS = DEMO_DIR / "sports2d_demo_labels.json"


def default_demo_path() -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "posewarper" / "demo.pwproj"


def load_labels(path: Path = LABELS) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def build_demo(target: Path | None = None, labels_path: Path = LABELS) -> Path:
    """Create the demo project at `target` unless it exists; return its path."""
    target = Path(target or default_demo_path())
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    labels = load_labels(labels_path)
    skeleton = get_skeleton(labels["skeleton"])
    video = video_from_media(DEMO_DIR / labels["video"], target)
    video.source = str((DEMO_DIR / labels["video"]).resolve())  # the project lives elsewhere
    video.keyframe_stride = int(labels.get("keyframe_stride", 10))
    video.name = "Sports2D demo"
    for t in labels["tracks"]:
        video.tracks[int(t["id"])] = Track(int(t["id"]), t.get("name", ""))
    for frame, by_track in labels["poses"].items():
        for tid, joints in by_track.items():
            xy = [[0.0, 0.0]] * skeleton.num_joints
            vis = [0] * skeleton.num_joints
            for name, (x, y, v) in joints.items():
                j = skeleton.index(name)
                xy[j], vis[j] = [float(x), float(y)], int(v)
            video.set_pose(int(frame), int(tid), Pose.manual(xy, vis, keyframe=True))
    store = ProjectStore.create(target, skeleton=skeleton, name="demo")
    try:
        store.add_video(video)  # one transaction: the project has all the labels or none
    finally:
        store.close()
    return target
