"""One training sample: two crops (A, B) cut with the same affine transform, A's heatmaps as
input and B's heatmaps as the target.

Every data source (labelled video pairs, random warps of real frames, synthetic figures) ends
in `make_sample`, so the crop geometry, augmentation and normalisation are the same for all of
them and match what auto-fill does at use time (person box grown by `pad`, aspect fixed to the
model's input, ImageNet normalisation, heatmaps at a quarter of the crop size).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import heatmaps

# The crop geometry is the core's (crops.py): auto-fill cuts its crops the same way.
from ..crops import (HEATMAP_STRIDE, IMAGENET_MEAN, IMAGENET_STD, crop_image, crop_transform,  # noqa: F401
                     normalise, transform_points)


@dataclass(frozen=True)
class Augment:
    """Random crop jitter applied identically to A and B (the paper's §3.3, milder by default)."""

    scale: float = 0.25  # std of the crop scale factor (clipped to 1 ± 2·scale)
    rotation: float = 30.0  # degrees std, applied with probability rotation_prob
    rotation_prob: float = 0.4
    shift: float = 0.05  # fraction of the box size
    flip: bool = True

    @staticmethod
    def none() -> "Augment":
        return Augment(scale=0.0, rotation=0.0, rotation_prob=0.0, shift=0.0, flip=False)


def render_heatmaps(xy_crop: np.ndarray, visible: np.ndarray, input_size: tuple[int, int],
                    sigma: float) -> tuple[torch.Tensor, np.ndarray]:
    """Heatmaps (J, H/4, W/4) for crop-pixel joints; also the mask of joints inside the map."""
    w, h = input_size[0] // HEATMAP_STRIDE, input_size[1] // HEATMAP_STRIDE
    xy_hm = np.asarray(xy_crop, np.float64) / HEATMAP_STRIDE
    margin = 3 * sigma
    inside = (
        (xy_hm[:, 0] > -margin) & (xy_hm[:, 0] < w - 1 + margin)
        & (xy_hm[:, 1] > -margin) & (xy_hm[:, 1] < h - 1 + margin)
    )
    vis = np.asarray(visible, bool) & inside
    hm = heatmaps.render(xy_hm.astype(np.float32), vis, size=(h, w), sigma=sigma)
    return torch.from_numpy(np.ascontiguousarray(hm, dtype=np.float32)), vis


def sample_params(rng: np.random.Generator, aug: Augment) -> dict:
    """Draw one set of crop jitter parameters."""
    scale = float(np.clip(1.0 + rng.normal() * aug.scale, 1.0 - 2 * aug.scale, 1.0 + 2 * aug.scale)) \
        if aug.scale > 0 else 1.0
    rot = float(np.clip(rng.normal() * aug.rotation, -2 * aug.rotation, 2 * aug.rotation)) \
        if aug.rotation > 0 and rng.random() < aug.rotation_prob else 0.0
    shift = tuple(float(v) for v in rng.uniform(-aug.shift, aug.shift, 2)) if aug.shift > 0 else (0.0, 0.0)
    flip = bool(aug.flip and rng.random() < 0.5)
    return {"scale": scale, "rotation": rot, "shift": shift, "flip": flip}


def pack(crop_a: np.ndarray, crop_b: np.ndarray, xy_a: np.ndarray, vis_a: np.ndarray,
         xy_b: np.ndarray, vis_b: np.ndarray, input_size: tuple[int, int], sigma: float,
         flip_perm: np.ndarray | None = None, flip: bool = False) -> dict[str, torch.Tensor]:
    """Turn two crops and crop-pixel joints into the tensors the training loop eats.

    `weight` marks joints labelled (and inside the map) in both frames: only those are scored.
    A horizontal flip mirrors both crops and swaps left/right joint channels.
    """
    xy_a, xy_b = np.asarray(xy_a, np.float64).copy(), np.asarray(xy_b, np.float64).copy()
    vis_a, vis_b = np.asarray(vis_a, bool).copy(), np.asarray(vis_b, bool).copy()
    if flip and flip_perm is not None:
        w = input_size[0]
        crop_a, crop_b = crop_a[:, ::-1], crop_b[:, ::-1]
        xy_a[:, 0] = w - 1 - xy_a[:, 0]
        xy_b[:, 0] = w - 1 - xy_b[:, 0]
        xy_a, xy_b, vis_a, vis_b = xy_a[flip_perm], xy_b[flip_perm], vis_a[flip_perm], vis_b[flip_perm]
    hm_a, in_a = render_heatmaps(xy_a, vis_a, input_size, sigma)
    hm_b, in_b = render_heatmaps(xy_b, vis_b, input_size, sigma)
    return {
        "image_a": normalise(crop_a),
        "image_b": normalise(crop_b),
        "heatmaps_a": hm_a,
        "heatmaps_b": hm_b,
        "weight": torch.from_numpy((in_a & in_b).astype(np.float32)),
        "xy_b": torch.from_numpy(xy_b.astype(np.float32)),
        "xy_a": torch.from_numpy(xy_a.astype(np.float32)),
        "vis_a": torch.from_numpy(vis_a),
    }


def make_sample(image_a: np.ndarray, image_b: np.ndarray, xy_a: np.ndarray, vis_a: np.ndarray,
                xy_b: np.ndarray, vis_b: np.ndarray, box: tuple[float, float, float, float],
                input_size: tuple[int, int], sigma: float, rng: np.random.Generator | None = None,
                aug: Augment | None = None, flip_perm: np.ndarray | None = None,
                pad: float = 1.25) -> dict[str, torch.Tensor]:
    """A training sample from two full frames and image-pixel joints.

    Both frames are cut with the same transform, built from `box` (A's person box), so B's
    joints move inside the crop exactly as they moved in the video.
    """
    aug = aug or Augment.none()
    p = sample_params(rng, aug) if rng is not None else sample_params(np.random.default_rng(0), Augment.none())
    m = crop_transform(box, input_size, pad=pad, scale=p["scale"], rotation=p["rotation"], shift=p["shift"])
    crop_a = crop_image(image_a, m, input_size)
    crop_b = crop_image(image_b, m, input_size)
    return pack(crop_a, crop_b, transform_points(m, xy_a), vis_a, transform_points(m, xy_b), vis_b,
                input_size, sigma, flip_perm, p["flip"])


def pose_box(xy: np.ndarray, visible: np.ndarray) -> tuple[float, float, float, float] | None:
    """Tight box (x, y, w, h) around the visible joints, or None."""
    vis = np.asarray(visible, bool)
    if vis.sum() < 2:
        return None
    pts = np.asarray(xy, np.float64)[vis]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
