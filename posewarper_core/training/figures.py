"""Synthetic people animated with real human motion.

The label-only motion sets (Bonn's 59 sequences: every frame labelled, no pixels) give real
articulated motion between two frames; we draw a figure in that pose over a real background
and train on exactly known joints. What flow lacks and this teaches: limbs that rotate about
joints, cross each other and hide behind the body, with the texture moving with the limb.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..errors import PoseWarperError

# Bonn / MPII-style 14 joints -> PoseTrack-17 index.
BONN_TO_POSETRACK = {
    "right_ankle": 16, "right_knee": 14, "right_hip": 12, "left_hip": 11, "left_knee": 13,
    "left_ankle": 15, "upper_neck": 1, "head_top": 2, "right_wrist": 10, "right_elbow": 8,
    "right_shoulder": 6, "left_shoulder": 5, "left_elbow": 7, "left_wrist": 9,
}

# Body parts as (joint a, joint b, width relative to the figure's torso length).
LIMBS = (
    (5, 7, 0.22), (7, 9, 0.18), (6, 8, 0.22), (8, 10, 0.18),
    (11, 13, 0.28), (13, 15, 0.22), (12, 14, 0.28), (14, 16, 0.22), (1, 2, 0.45),
)
TORSO = (5, 6, 12, 11)


@dataclass
class MotionTrack:
    """One person's motion: joints (T, 17, 2) in source pixels and labelled flags (T, 17)."""

    name: str
    xy: np.ndarray
    visible: np.ndarray


def load_bonn_motion(path: str | Path, min_frames: int = 8, exclude: Iterable[str] = ()) -> list[MotionTrack]:
    """Read the label-only Bonn sequences JSON into PoseTrack-17 motion tracks, leaving out the
    sequences named in `exclude` (the dev clips': their motion must not reach a model)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        names = data["joint_names"]
        sequences = data["sequences"]
    except (OSError, ValueError, KeyError) as exc:
        raise PoseWarperError(f"{path}: not a Bonn label-only motion file ({exc})") from exc
    index = np.array([BONN_TO_POSETRACK[n] for n in names])
    tracks = []
    skip = set(exclude)
    for seq_name, seq in sequences.items():
        if seq_name in skip:
            continue
        for person in seq["persons"]:
            frames = person["keypoints"]
            t = len(frames)
            xy = np.zeros((t, 17, 2))
            vis = np.zeros((t, 17), bool)
            for i, kp in enumerate(frames):
                if kp is None:
                    continue
                kp = np.asarray(kp, np.float64).reshape(-1, 3)
                xy[i, index] = kp[:, :2]
                vis[i, index] = kp[:, 2] > 0
            if (vis.sum(axis=1) >= 8).sum() >= min_frames:
                tracks.append(MotionTrack(f"{seq_name}/{person.get('id', len(tracks))}", xy, vis))
    if not tracks:
        raise PoseWarperError(f"{path}: no usable motion track")
    return tracks


def _part_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(20, 235, 3)


def draw_figure(canvas: np.ndarray, xy: np.ndarray, visible: np.ndarray, style: dict) -> np.ndarray:
    """Draw a figure in pose `xy` (17, 2) on an RGB canvas; `style` fixes colours, widths and
    depth order so the same person looks the same in A and B."""
    out = canvas.astype(np.float32)
    h, w = out.shape[:2]
    torso_len = style["torso_len"]
    parts = []
    if all(visible[j] for j in TORSO):
        parts.append(("torso", TORSO, 0.0))
    for a, b, width in LIMBS:
        if visible[a] and visible[b]:
            parts.append(("limb", (a, b), width))
    order = sorted(range(len(parts)), key=lambda i: style["depth"][parts[i][0] + str(parts[i][1])])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in order:
        kind, joints, width = parts[i]
        key = kind + str(joints)
        colour = style["colour"][key]
        mask = np.zeros((h, w), np.uint8)
        if kind == "torso":
            cv2.fillConvexPoly(mask, np.round(xy[list(joints)]).astype(np.int32), 1, cv2.LINE_AA)
            a, b = (xy[5] + xy[6]) / 2, (xy[11] + xy[12]) / 2
        else:
            a, b = xy[joints[0]], xy[joints[1]]
            thick = max(int(round(width * torso_len)), 2)
            cv2.line(mask, tuple(int(v) for v in np.round(a)), tuple(int(v) for v in np.round(b)), 1, thick)
            cv2.circle(mask, tuple(int(v) for v in np.round(b)), thick // 2, 1, -1)
        m = mask.astype(bool)
        if not m.any():
            continue
        # Stripes along the part's axis move and turn with it, like clothing texture.
        axis = b - a
        length = max(float(np.hypot(*axis)), 1.0)
        u = ((xs[m] - a[0]) * axis[0] + (ys[m] - a[1]) * axis[1]) / length
        v = ((xs[m] - a[0]) * -axis[1] + (ys[m] - a[1]) * axis[0]) / length
        period = style["period"][key] * torso_len
        shade = np.sin(2 * np.pi * u / period) * 0.5 + np.cos(2 * np.pi * v / period * 0.7) * 0.3
        out[m] = colour + shade[:, None] * style["contrast"][key]
    return np.clip(out, 0, 255).astype(np.uint8)


def random_style(rng: np.random.Generator, torso_len: float) -> dict:
    """Colours, stripe periods and depth order for one synthetic person."""
    keys = ["torso" + str(TORSO)] + ["limb" + str((a, b)) for a, b, _ in LIMBS]
    shirt, trousers, skin = _part_colour(rng), _part_colour(rng), rng.uniform(80, 230, 3)
    colour = {}
    for k in keys:
        if "(1, 2)" in k:
            colour[k] = skin
        elif any(f"({j}," in k for j in (11, 12, 13, 14)):
            colour[k] = trousers + rng.normal(size=3) * 10
        else:
            colour[k] = shirt + rng.normal(size=3) * 10
    return {
        "torso_len": torso_len,
        "colour": colour,
        "period": {k: rng.uniform(0.15, 0.6) for k in keys},
        "contrast": {k: rng.uniform(10, 60) for k in keys},
        "depth": {k: rng.random() for k in keys},
    }


def torso_length(xy: np.ndarray, visible: np.ndarray) -> float:
    """Shoulder-centre to hip-centre distance (a body-size scale), with a fallback."""
    if all(visible[j] for j in TORSO):
        return float(np.hypot(*((xy[5] + xy[6]) / 2 - (xy[11] + xy[12]) / 2))) + 1e-3
    pts = xy[visible]
    return float(np.ptp(pts, axis=0).max()) / 3 + 1e-3 if len(pts) else 30.0
