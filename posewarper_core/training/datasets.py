"""Datasets of training pairs. Each item is a dict from `samples.pack` (two crops, A's heatmaps,
B's target heatmaps, per-joint weights).

- `VideoPairs`: pairs of labelled frames (A, B) of the same track with |B - A| in a range, from
  annotation Videos (PoseTrack18 files, or a project's keyframes when adapting).
- `WarpPairs`: a real frame and a random smooth warp of it (exact self-supervised targets).
- `FigurePairs`: synthetic figures animated with real human motion over real backgrounds.

Synthetic items are drawn from a generator seeded by (seed, epoch, index): reproducible, and
different in every epoch and on every DDP rank (each rank sees different indices).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from ..annotation import Video
from ..errors import PoseWarperError
from . import figures, warps
from .samples import Augment, crop_image, crop_transform, make_sample, pack, pose_box, sample_params, transform_points


class _Seeded(Dataset):
    """Base for generated datasets: a fixed virtual length and a per-item random generator."""

    def __init__(self, length: int, seed: int):
        self.length = int(length)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])


class VideoPairs(_Seeded):
    """Pairs of labelled poses of one track, |frame B - frame A| within `delta_range`.

    `videos` are (Video, frame reader) with frame reader any object with `frame(i) -> RGB array`
    (a VideoSource). Only `keyframes_only` poses count as labelled when adapting to a project.
    """

    def __init__(self, videos: Sequence[tuple[Video, object]], input_size: tuple[int, int], sigma: float,
                 delta_range: tuple[int, int] = (1, 2), aug: Augment | None = None,
                 flip_perm: np.ndarray | None = None, keyframes_only: bool = False,
                 length: int | None = None, seed: int = 0, min_joints: int = 3):
        self.videos = list(videos)
        self.pairs: list[tuple[int, int, int, int]] = []
        lo, hi = delta_range
        for vi, (video, _) in enumerate(self.videos):
            for track_id in video.tracks:
                frames = [
                    f for f in video.track_frames(track_id)
                    if (not keyframes_only or video.poses[f][track_id].keyframe)
                    and video.poses[f][track_id].labelled().sum() >= min_joints
                ]
                for fa in frames:
                    for fb in frames:
                        if lo <= abs(fb - fa) <= hi:
                            self.pairs.append((vi, track_id, fa, fb))
        if not self.pairs:
            names = ", ".join(v.name or str(v.source) for v, _ in self.videos) or "no video"
            raise PoseWarperError(
                f"{names}: no pair of labelled frames of one track {lo}..{hi} frames apart to train on"
            )
        super().__init__(length or len(self.pairs), seed)
        self.input_size, self.sigma = tuple(input_size), float(sigma)
        self.aug = aug or Augment()
        self.flip_perm = flip_perm

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        vi, track_id, fa, fb = self.pairs[index % len(self.pairs)]
        video, reader = self.videos[vi]
        pa, pb = video.poses[fa][track_id], video.poses[fb][track_id]
        box = pa.box_or_extent()
        return make_sample(reader.frame(fa), reader.frame(fb), pa.xy, pa.labelled(), pb.xy, pb.labelled(),
                           box, self.input_size, self.sigma, rng, self.aug, self.flip_perm)


class WarpPairs(_Seeded):
    """A crop of a real frame and a random smooth warp of it.

    `anchors(rng) -> (image, xy (J, 2), visible (J,))` supplies a frame and joints in it: a
    project's keyframe with its real pose, or a demo frame with a pose taken from real motion.
    """

    def __init__(self, anchors: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray]],
                 input_size: tuple[int, int], sigma: float, length: int, amplitude: float = 0.06,
                 aug: Augment | None = None, flip_perm: np.ndarray | None = None, seed: int = 0,
                 degrade_strength: float = 1.0):
        super().__init__(length, seed)
        self.anchors = anchors
        self.input_size, self.sigma = tuple(input_size), float(sigma)
        self.amplitude = float(amplitude)  # displacement std, as a fraction of the crop width
        self.aug = aug or Augment()
        self.flip_perm = flip_perm
        self.degrade_strength = degrade_strength

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        image, xy, vis = self.anchors(rng)
        box = pose_box(xy, vis) or (0, 0, image.shape[1], image.shape[0])
        p = sample_params(rng, self.aug)
        m = crop_transform(box, self.input_size, scale=p["scale"], rotation=p["rotation"], shift=p["shift"])
        crop_a = crop_image(image, m, self.input_size)
        xy_a = transform_points(m, xy)
        amp = self.amplitude * self.input_size[0] * rng.uniform(0.2, 1.5)
        crop_b, xy_b = warps.warp_pair(crop_a, xy_a[vis], rng, amp, self.degrade_strength)
        xy_b_all = xy_a.copy()
        xy_b_all[vis] = xy_b
        if rng.random() < 0.5:  # the warped frame is as often the keyframe as the target
            crop_a, crop_b, xy_a, xy_b_all = crop_b, crop_a, xy_b_all, xy_a
        return pack(crop_a, crop_b, xy_a, vis, xy_b_all, vis, self.input_size, self.sigma,
                    self.flip_perm, p["flip"])


def pick_motion_pair(motion, rng: np.random.Generator, delta_range: tuple[int, int], tries: int = 100):
    """(track, frame a, frame b): a random motion track and two of its frames |b - a| within
    `delta_range` apart (either order), each with at least 8 visible joints."""
    lo, hi = delta_range
    for _ in range(tries):
        track = motion[int(rng.integers(len(motion)))]
        t = len(track.xy)
        d = int(rng.integers(lo, hi + 1)) * (1 if rng.random() < 0.5 else -1)
        ta = int(rng.integers(0, t))
        tb = ta + d
        if 0 <= tb < t and track.visible[ta].sum() >= 8 and track.visible[tb].sum() >= 8:
            return track, ta, tb
    raise PoseWarperError(f"no motion track has two frames {lo}-{hi} apart with 8 visible joints each")


class FigurePairs(_Seeded):
    """Synthetic figures moving as real people moved, drawn over real backgrounds."""

    def __init__(self, motion: Sequence[figures.MotionTrack], backgrounds: Sequence[np.ndarray],
                 input_size: tuple[int, int], sigma: float, length: int,
                 delta_range: tuple[int, int] = (1, 7), aug: Augment | None = None,
                 flip_perm: np.ndarray | None = None, seed: int = 0):
        super().__init__(length, seed)
        if not motion or not backgrounds:
            raise PoseWarperError("synthetic figures need at least one motion track and one background")
        self.motion, self.backgrounds = list(motion), list(backgrounds)
        self.input_size, self.sigma = tuple(input_size), float(sigma)
        self.delta_range = delta_range
        self.aug = aug or Augment()
        self.flip_perm = flip_perm

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        track, ta, tb = pick_motion_pair(self.motion, rng, self.delta_range)
        xy_a, vis_a = track.xy[ta], track.visible[ta]
        xy_b, vis_b = track.xy[tb], track.visible[tb]
        p = sample_params(rng, self.aug)
        m = crop_transform(pose_box(xy_a, vis_a), self.input_size, scale=p["scale"],
                           rotation=p["rotation"], shift=p["shift"])
        ca, cb = transform_points(m, xy_a), transform_points(m, xy_b)
        bg = self._background(rng)
        # Slight camera motion between the two backgrounds.
        shift = rng.normal(size=2) * 0.02 * self.input_size[0]
        bg_b = cv2.warpAffine(bg, np.float64([[1, 0, shift[0]], [0, 1, shift[1]]]), self.input_size,
                              borderMode=cv2.BORDER_REFLECT)
        style = figures.random_style(rng, figures.torso_length(ca, vis_a))
        crop_a = figures.draw_figure(bg, ca, vis_a, style)
        crop_b = warps.degrade(figures.draw_figure(bg_b, cb, vis_b, style), rng)
        return pack(crop_a, crop_b, ca, vis_a, cb, vis_b, self.input_size, self.sigma,
                    self.flip_perm, p["flip"])

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        img = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        h, w = img.shape[:2]
        cw = int(rng.uniform(0.2, 0.6) * w)
        ch = int(cw * self.input_size[1] / self.input_size[0])
        ch = min(ch, h)
        x0, y0 = int(rng.integers(0, max(w - cw, 1))), int(rng.integers(0, max(h - ch, 1)))
        return cv2.resize(np.ascontiguousarray(img[y0:y0 + ch, x0:x0 + cw]), self.input_size,
                          interpolation=cv2.INTER_AREA)


def read_frames(path: str | Path, count: int = 40, max_side: int = 960) -> list[np.ndarray]:
    """`count` RGB frames spread evenly over a video file, shrunk to at most `max_side` pixels."""
    path = Path(path)
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if not cap.isOpened() or total <= 0:
        raise PoseWarperError(f"{path}: cannot read frames")
    wanted = set(np.linspace(0, total - 1, min(count, total)).astype(int).tolist())
    frames = []
    for i in range(total):  # sequential reads: exact without seeking
        ok, bgr = cap.read()
        if not ok:
            break
        if i in wanted:
            s = max_side / max(bgr.shape[:2])
            if s < 1:
                bgr = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise PoseWarperError(f"{path}: no frame could be decoded")
    return frames


def motion_anchors(frames: Sequence[np.ndarray], motion: Sequence[figures.MotionTrack]):
    """Anchors for `WarpPairs` over frames without labels: a real pose from the motion set,
    scaled and placed somewhere in a random frame (its joints mark points to follow)."""

    def anchor(rng: np.random.Generator):
        img = frames[int(rng.integers(len(frames)))]
        h, w = img.shape[:2]
        for _ in range(50):
            tr = motion[int(rng.integers(len(motion)))]
            t = int(rng.integers(len(tr.xy)))
            if tr.visible[t].sum() >= 8:
                break
        xy, vis = tr.xy[t].copy(), tr.visible[t].copy()
        lo, hi = xy[vis].min(axis=0), xy[vis].max(axis=0)
        size = max(float((hi - lo).max()), 1.0)
        target = rng.uniform(0.2, 0.7) * h
        xy = (xy - lo) * (target / size)
        ext = xy[vis].max(axis=0)
        off = np.array([rng.uniform(0, max(w - ext[0], 1)), rng.uniform(0, max(h - ext[1], 1))])
        return img, xy + off, vis

    return anchor


def keyframe_anchors(videos: Sequence[tuple[Video, object]], keyframes_only: bool = True):
    """Anchors for `WarpPairs` from labelled poses of annotation videos (adaptation)."""
    items = []
    for vi, (video, _) in enumerate(videos):
        for f, by_track in video.poses.items():
            for tid, pose in by_track.items():
                if (pose.keyframe or not keyframes_only) and pose.labelled().sum() >= 3:
                    items.append((vi, f, tid))
    if not items:
        raise PoseWarperError("no labelled keyframe to adapt to")
    cache: dict[tuple[int, int], np.ndarray] = {}

    def anchor(rng: np.random.Generator):
        vi, f, tid = items[int(rng.integers(len(items)))]
        video, reader = videos[vi]
        if (vi, f) not in cache:
            cache[(vi, f)] = reader.frame(f)
        pose = video.poses[f][tid]
        return cache[(vi, f)], pose.xy, pose.labelled()

    return anchor, len(items)


class Mixture(Dataset):
    """Several datasets end to end (like ConcatDataset), passing `set_epoch` on to each."""

    def __init__(self, parts: Sequence[Dataset]):
        self.parts = [p for p in parts if len(p) > 0]
        if not self.parts:
            raise PoseWarperError("no training data")
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            if hasattr(p, "set_epoch"):
                p.set_epoch(epoch)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict:
        i = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.parts[i][index - int(self.offsets[i])]
