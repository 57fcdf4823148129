"""Derived copies of a densely labelled PoseTrack18 clip, written into a folder the user gives
(never beside the source): stress checks for the fill and the suggestions, not benchmarks to tune on.

- every N: the clip's frames 0, N, 2N, ... (faster motion between frames).
- mirror pair: each frame side by side with its horizontal mirror, the two copies overlapping so
  that the people stand close (the footage we are judged on has two people sparring close
  together). The mirrored people are new tracks, their left and right joints swapped (a mirrored
  left arm looks like a right arm).

How a pair frame is made. The copies are W wide; the mirror goes on the side where the people are
nearer the frame's edge, and overlaps the original by `overlap` pixels (the frame is 2W - overlap
wide). The overlap is the median over frames of what makes the person nearest that edge touch
their mirror image: on about half the frames their boxes (joint extents grown by PERSON_MARGIN)
touch or overlap, capped at W. The seam: in the overlap band the two backgrounds are cross-faded
linearly; a person's region (their box, edges feathered over FEATHER px) is taken whole from their
own copy, the original's people in front of the mirrored ones; a mirrored joint that falls inside
an original person's region is marked occluded (visibility 1), as a label behind someone is.

    write_derived_clip("gt/posetrack18.json", "out_dir", every=2, mirror_pair=True)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .annotation import FrameRef, Pose, Track, Video
from .atomic_file import replacing
from .errors import OutputError, PoseWarperError
from .formats import write_posetrack18
from .skeleton import Skeleton

PERSON_MARGIN = 0.15  # of a person's joint extent's longer side on each side: the hands, feet and head top lie beyond the joints
FEATHER = 3.0  # pixels: sigma of the soft edge of a pasted person (no hard rectangle edge for flow to follow)


@dataclass(frozen=True)
class PairLayout:
    """Where the mirror copy goes: on the right (`mirror_right`) or the left, overlapping by `overlap` px."""

    width: int  # of one copy
    overlap: int
    mirror_right: bool

    @property
    def out_width(self) -> int:
        return 2 * self.width - self.overlap

    @property
    def original_x(self) -> int:
        return 0 if self.mirror_right else self.width - self.overlap

    @property
    def mirror_x(self) -> int:
        return self.width - self.overlap if self.mirror_right else 0


def person_box(pose: Pose) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1): the labelled joints' extent grown by PERSON_MARGIN of its longer side."""
    ext = pose.joint_extent()
    if ext is None:
        return None
    x, y, w, h = ext
    grow = PERSON_MARGIN * max(w, h, 1.0)
    return x - grow, y - grow, x + w + grow, y + h + grow


def choose_layout(video: Video, frames: list[int]) -> PairLayout:
    """The mirror side and overlap (module doc): per frame, the overlap that makes the box nearest
    that side touch its mirror image (about twice its distance to that edge); the median over
    frames, on the side that needs less."""
    w = int(video.width)
    need = {True: [], False: []}
    for f in frames:
        boxes = [b for b in (person_box(p) for p in video.poses.get(f, {}).values()) if b is not None]
        if boxes:
            need[True].append(2.0 * (w - max(b[2] for b in boxes)) - 1.0)  # mirror on the right
            need[False].append(2.0 * min(b[0] for b in boxes) + 1.0)  # mirror on the left
    if not need[True]:
        raise PoseWarperError(f"{video.name or video.source}: no labelled person in the frames kept: nothing to pair")
    right = float(np.median(need[True])) <= float(np.median(need[False]))
    overlap = int(np.clip(np.ceil(np.median(need[right])), 0, w))
    return PairLayout(w, overlap, right)


def mirror_pose(pose: Pose, skeleton: Skeleton, width: int, x_offset: float) -> Pose:
    """The pose in a copy of the frame mirrored left-right and shifted by `x_offset`: x -> width - x
    (pixel centres: a joint at pixel x lands on pixel width - 1 - x, +0.5 conventions aside), left
    and right joints swapped."""
    perm = skeleton.flip_permutation()
    m = pose.labelled()[perm]
    xy = pose.xy[perm].copy()
    xy[:, 0] = (width - 1) - xy[:, 0] + x_offset
    out = Pose.manual(np.where(m[:, None], xy, 0.0), pose.visibility[perm])
    if pose.head_box is not None:
        x, y, bw, bh = pose.head_box
        out.head_box = ((width - 1) - (x + bw) + x_offset, y, bw, bh)
    if pose.bbox is not None:
        x, y, bw, bh = pose.bbox
        out.bbox = ((width - 1) - (x + bw) + x_offset, y, bw, bh)
    return out


def shifted_pose(pose: Pose, x_offset: float) -> Pose:
    out = Pose.manual(np.where(pose.labelled()[:, None], pose.xy + [x_offset, 0.0], 0.0), pose.visibility.copy())
    if pose.head_box is not None:
        out.head_box = (pose.head_box[0] + x_offset, *pose.head_box[1:])
    if pose.bbox is not None:
        out.bbox = (pose.bbox[0] + x_offset, *pose.bbox[1:])
    return out


def _region(shape, boxes) -> np.ndarray:
    """(H, W) float in [0, 1]: the boxes filled, their edges feathered."""
    h, w = shape
    mask = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1 in boxes:
        xa, ya = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        xb, yb = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
        mask[ya:yb, xa:xb] = 1.0
    return cv2.GaussianBlur(mask, (0, 0), FEATHER) if mask.any() else mask


def pair_frame(rgb: np.ndarray, layout: PairLayout, original_boxes, mirror_boxes) -> tuple[np.ndarray, np.ndarray]:
    """(the pair frame (H, 2W - overlap, 3) uint8, the original people's region (H, 2W - overlap)).
    Boxes are in the pair frame's coordinates."""
    h, w = rgb.shape[:2]
    ow = layout.out_width
    a = np.zeros((h, ow, 3), np.float32)
    b = np.zeros((h, ow, 3), np.float32)
    a[:, layout.original_x:layout.original_x + w] = rgb
    b[:, layout.mirror_x:layout.mirror_x + w] = rgb[:, ::-1]
    # Background: each copy alone outside the band, a linear cross-fade across it.
    x = np.arange(ow, dtype=np.float32)
    lo, hi = layout.width - layout.overlap, layout.width  # the band
    ramp = np.clip((x - lo + 0.5) / max(hi - lo, 1), 0.0, 1.0)  # 0 at the band's left end, 1 at its right
    w_mirror = ramp if layout.mirror_right else 1.0 - ramp
    out = a * (1.0 - w_mirror)[None, :, None] + b * w_mirror[None, :, None]
    in_b = (x >= layout.mirror_x) & (x < layout.mirror_x + w)
    in_a = (x >= layout.original_x) & (x < layout.original_x + w)
    mirror_people = _region((h, ow), mirror_boxes) * in_b[None, :]
    out = out * (1.0 - mirror_people[..., None]) + b * mirror_people[..., None]
    original_people = _region((h, ow), original_boxes) * in_a[None, :]
    out = out * (1.0 - original_people[..., None]) + a * original_people[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), original_people


def check_output_folder(out_dir: Path, source_dir: Path) -> None:
    out_real, src_real = Path(os.path.realpath(out_dir)), Path(os.path.realpath(source_dir))
    if out_real == src_real or src_real in out_real.parents:
        raise OutputError(f"{out_dir}: inside the source clip's folder {source_dir}; a derived clip is never written "
                          "beside its source: choose another folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder")
    if (out_dir / "frames").exists() and any((out_dir / "frames").iterdir()):
        raise OutputError(f"{out_dir / 'frames'}: not empty; choose a new or empty folder")


def write_derived_clip(gt_path: str | Path, out_dir: str | Path, *, every: int = 1, mirror_pair: bool = False,
                       progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the derived clip (module doc) as `out_dir`/posetrack18.json and `out_dir`/frames/NNNNN.png;
    returns what was written: {"path", "frames", "tracks", "width", "height", "overlap",
    "mirror_side", "touching_frames"} (touching: frames where an original and a mirrored box touch)."""
    from .evaluation import load_ground_truth

    gt_path, out_dir = Path(gt_path), Path(out_dir)
    if every < 1:
        raise PoseWarperError(f"--every must be 1 or more, got {every}")
    if not every > 1 and not mirror_pair:
        raise PoseWarperError("nothing to derive: give --every N (N >= 2) and/or --mirror-pair")
    check_output_folder(out_dir, gt_path.parent)
    skeleton, gt, open_source = load_ground_truth(gt_path)
    kept = list(range(0, gt.num_frames, every))
    layout = choose_layout(gt, kept) if mirror_pair else None
    width = layout.out_width if layout else gt.width
    mirror_id = (max(gt.tracks) + 1) if gt.tracks else 0
    video = Video(source=".", num_frames=len(kept), width=int(width), height=int(gt.height),
                  fps=gt.fps / every if gt.fps else None, name=f"{gt.name}_derived", vid_id=gt.vid_id,
                  frames=[FrameRef(f"frames/{i + 1:05d}.png") for i in range(len(kept))])
    for tid, track in gt.tracks.items():
        video.tracks[tid] = track
    touching = 0
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "frames").mkdir(exist_ok=True)
    with open_source() as frames:
        for i, f in enumerate(kept):
            rgb = frames.frame(f)
            poses = {tid: p for tid, p in gt.poses.get(f, {}).items() if p.labelled().any()}
            if layout is None:
                out_rgb = rgb
                for tid, p in poses.items():
                    video.set_pose(i, tid, shifted_pose(p, 0.0))
            else:
                originals = {tid: shifted_pose(p, layout.original_x) for tid, p in poses.items()}
                mirrors = {tid: mirror_pose(p, skeleton, gt.width, layout.mirror_x) for tid, p in poses.items()}
                a_boxes = [person_box(p) for p in originals.values()]
                b_boxes = [person_box(p) for p in mirrors.values()]
                out_rgb, front = pair_frame(rgb, layout, a_boxes, b_boxes)
                touching += any(_touch(a, b) for a in a_boxes for b in b_boxes)
                for tid, p in originals.items():
                    video.set_pose(i, tid, p)
                for tid, p in mirrors.items():
                    xy = np.clip(np.rint(p.xy).astype(int), 0, [width - 1, gt.height - 1])
                    behind = p.labelled() & (front[xy[:, 1], xy[:, 0]] > 0.5)
                    p.visibility[behind] = 1
                    video.set_pose(i, mirror_id + tid, p)
            ok, png = cv2.imencode(".png", np.ascontiguousarray(out_rgb[..., ::-1]))
            if not ok:
                raise PoseWarperError(f"frame {f} of {gt_path}: could not encode it as PNG")
            with replacing(out_dir / video.frames[i].file_name, binary=True) as out:
                out.write(png.tobytes())
            if progress:
                progress(i + 1, len(kept))
    if layout is not None:
        for tid in list(gt.tracks):
            name = gt.tracks[tid].name or f"person {tid}"
            video.tracks[mirror_id + tid] = Track(mirror_id + tid, f"mirror of {name}")
    video.labelled_frames = set(range(len(kept)))
    json_path = out_dir / "posetrack18.json"
    write_posetrack18(json_path, skeleton, video, base_dir=out_dir)
    return {"path": str(json_path), "frames": len(kept), "tracks": len(video.tracks), "width": int(width),
            "height": int(gt.height), "overlap": layout.overlap if layout else 0,
            "mirror_side": ("right" if layout.mirror_right else "left") if layout else None,
            "touching_frames": touching if layout else None}


def _touch(a, b) -> bool:
    return a is not None and b is not None and a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
