"""Random smooth warps of a real image: self-supervised pairs whose correspondences are exact.

Frame B is frame A resampled through a smooth displacement field D (B(x) = A(x + D(x))), so
a joint at p in A lands at the q with q + D(q) = p in B. The field mixes a global similarity
motion (camera), a low-frequency random field (non-rigid motion) and local rotations about
random joints (a limb swinging about its parent joint), then B gets the nuisances flow
struggles with: motion blur, brightness change, noise and occluding patches.
"""
from __future__ import annotations

import cv2
import numpy as np


def random_field(size: tuple[int, int], rng: np.random.Generator, amplitude: float,
                 joints: np.ndarray | None = None, limb_prob: float = 0.5) -> np.ndarray:
    """A smooth displacement field (H, W, 2) in pixels for an image of size (W, H)."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w, 2), np.float32)
    # Global similarity motion about the centre.
    ang = np.deg2rad(rng.normal() * 4.0)
    sc = 1.0 + rng.normal() * 0.04
    tx, ty = rng.normal(size=2) * amplitude
    cx, cy = w / 2, h / 2
    dx, dy = xs - cx, ys - cy
    field[..., 0] = (np.cos(ang) * sc - 1) * dx - np.sin(ang) * sc * dy + tx
    field[..., 1] = np.sin(ang) * sc * dx + (np.cos(ang) * sc - 1) * dy + ty
    # Low-frequency random field.
    gh, gw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    coarse = rng.normal(size=(gh, gw, 2)).astype(np.float32) * amplitude * 0.5
    field += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    # Local rotations about joints, fading out with distance: articulated-looking motion.
    if joints is not None and len(joints):
        for p in joints:
            if rng.random() > limb_prob:
                continue
            radius = rng.uniform(0.1, 0.3) * max(w, h)
            a = np.deg2rad(rng.normal() * 20.0)
            rx, ry = xs - p[0], ys - p[1]
            fall = np.exp(-(rx ** 2 + ry ** 2) / (2 * radius ** 2))
            field[..., 0] += ((np.cos(a) - 1) * rx - np.sin(a) * ry) * fall
            field[..., 1] += (np.sin(a) * rx + (np.cos(a) - 1) * ry) * fall
    return field


def warp_image(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """B(x) = A(x + D(x)), bilinear, replicated border."""
    h, w = field.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, xs + field[..., 0], ys + field[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def _sample_field(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = field.shape[:2]
    x = np.clip(pts[:, 0], 0, w - 1.001)
    y = np.clip(pts[:, 1], 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    f = field
    return ((1 - fx) * (1 - fy) * f[y0, x0] + fx * (1 - fy) * f[y0, x0 + 1]
            + (1 - fx) * fy * f[y0 + 1, x0] + fx * fy * f[y0 + 1, x0 + 1])


def map_points(field: np.ndarray, pts: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Where points of A land in B: solve q + D(q) = p by fixed-point iteration."""
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    q = pts.copy()
    for _ in range(iterations):
        q = pts - _sample_field(field, q)
    return q


def degrade(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0,
            window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Motion blur, brightness/contrast change, noise and an occluding patch, each at random.

    `window` (x0, y0, x1, y1): return only that part of the image, degraded as inside the whole
    degraded image (the occluder is placed in the whole image; where noise is added, it draws
    fewer numbers, so later draws differ but follow the same distributions). 46 ms -> 1 ms for a
    small window in a 1768x994 frame.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = window if window is not None else (0, 0, w, h)
    x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
    pad = 10  # the longest blur kernel: pixels near the window's edges see their true neighbours
    px0, py0, px1, py1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    out = image[py0:py1, px0:px1].astype(np.float32)
    if rng.random() < 0.4 * strength:
        n = int(rng.integers(3, 10))
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n
        rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (n, n))
        kernel /= max(kernel.sum(), 1e-6)
        out = cv2.filter2D(out, -1, kernel)
    out = out[y0 - py0:y1 - py0, x0 - px0:x1 - px0]
    if rng.random() < 0.6 * strength:
        out = out * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    if rng.random() < 0.3 * strength:
        out = out + rng.normal(size=out.shape).astype(np.float32) * rng.uniform(2, 8)
    if rng.random() < 0.25 * strength:
        pw, ph = int(rng.uniform(0.1, 0.3) * w), int(rng.uniform(0.1, 0.3) * h)
        ox, oy = int(rng.integers(0, max(w - pw, 1))), int(rng.integers(0, max(h - ph, 1)))
        out[max(oy - y0, 0):max(oy + ph - y0, 0), max(ox - x0, 0):max(ox + pw - x0, 0)] = rng.uniform(0, 255, 3)
    return np.clip(out, 0, 255).astype(np.uint8)


def warp_pair(crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator,
              amplitude: float, degrade_strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """B crop and the joints' positions in it, for an A crop and A's crop-pixel joints."""
    h, w = crop.shape[:2]
    field = random_field((w, h), rng, amplitude, joints)
    crop_b = degrade(warp_image(crop, field), rng, degrade_strength)
    return crop_b, map_points(field, joints)
