"""The bundled demo clip (resources/demo: Sports2D, 230 frames, 1768 x 994, two people) and our
own hand labels of it (every 10th frame). The demo project is built from them (app/demo.py);
`posewarper derive-clip --demo` writes them, with the clip's frames, as a PoseTrack18 file: a
third clip to check `bench` (k = 20: every other labelled frame is scored) and `bench-suggest`
(k = 10) on, that no constant of the fill or the suggestions was chosen on.

Head boxes (the bench's reference length, PCKh): the labels have none, so each pose gets a square
of side |head_top - head_bottom| centred between the two; a pose without both (the walker's back
arm and foot at frame 200, the jumper's legs on landing at 190) gets its person's nearest such
side, centred on its joints (only the size is used in scoring).

    write_demo_clip("/tmp/demo_clip")   # posetrack18.json and frames/NNNNNN.jpg
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from .annotation import FrameRef, Pose, Track, Video
from .errors import PoseWarperError
from .formats.common import estimated_head_box
from .resources import DEMO_DIR
from .skeleton import Skeleton, get_skeleton

DEMO_LABELS = DEMO_DIR / "sports2d_demo_labels.json"


def load_labels(path: Path = DEMO_LABELS) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def add_labels(video: Video, labels: dict, skeleton: Skeleton) -> None:
    """The labels' tracks and keyframe poses, into `video`."""
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


def add_head_boxes(video: Video, skeleton: Skeleton) -> None:
    """Every pose's head box by the rule in the module doc."""
    top, bottom = skeleton.index("head_top"), skeleton.index("head_bottom")
    for tid in video.tracks:
        poses = {f: by[tid] for f, by in video.poses.items() if tid in by and by[tid].labelled().any()}
        sides = {f: float(np.linalg.norm(p.xy[top] - p.xy[bottom])) for f, p in poses.items()
                 if p.labelled()[top] and p.labelled()[bottom]}
        if not sides:
            raise PoseWarperError(f"person {tid} of the demo labels has no pose with head_top and head_bottom")
        for f, p in poses.items():
            p.head_box = estimated_head_box(p, p.labelled(), top, bottom)  # the exports' rule
            if p.head_box is None:
                side, centre = sides[min(sides, key=lambda g: abs(g - f))], p.xy[p.labelled()].mean(axis=0)
                p.head_box = (float(centre[0] - side / 2), float(centre[1] - side / 2), side, side)


def write_demo_clip(out_dir: str | Path, labels_path: Path = DEMO_LABELS,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the demo clip's frames and labels (module doc) as `out_dir`/posetrack18.json and
    `out_dir`/frames/; returns {"path", "frames", "poses", "width", "height"}."""
    from .derived_clips import check_output_folder
    from .formats import write_posetrack18
    from .frame_images import write_jpeg
    from .video import open_video

    out_dir = Path(out_dir)
    check_output_folder(out_dir, DEMO_DIR)
    labels = load_labels(labels_path)
    skeleton = get_skeleton(labels["skeleton"])
    with open_video(DEMO_DIR / labels["video"]) as frames:
        n = frames.num_frames
        refs = [FrameRef(f"frames/{i:06d}.jpg") for i in range(n)]
        video = Video(source=".", num_frames=n, width=frames.width, height=frames.height, fps=frames.fps,
                      name="sports2d_demo", frames=refs)
        add_labels(video, labels, skeleton)  # a bad label fails here, before anything is written
        add_head_boxes(video, skeleton)
        video.labelled_frames = {int(f) for f in labels["poses"]}
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "frames").mkdir(exist_ok=True)
        for i, ref in enumerate(refs):  # JPEG: the clip is H.264 already; PNG would take ~0.5 GB
            write_jpeg(frames.frame(i), out_dir / ref.file_name, f"frame {i} of the demo clip")
            if progress:
                progress(i + 1, n)
    json_path = out_dir / "posetrack18.json"
    write_posetrack18(json_path, skeleton, video, base_dir=out_dir)
    return {"path": str(json_path), "frames": n, "poses": sum(len(by) for by in video.poses.values()),
            "width": int(video.width), "height": int(video.height)}
