"""Person crops as the networks see them, at training and at use time alike.

A crop is the 2x3 affine transform (image pixels -> crop pixels) of a person's box grown to the
model's aspect and by `pad`; the crop is cut with cv2.warpAffine (bilinear, zero border) and
normalised with ImageNet's statistics. Heatmaps are a quarter of the crop's size. Training
(training/samples.py) and auto-fill (autofill/posewarper_method.py) both use these, so what the
network sees at use time is what it was trained on.
"""
from __future__ import annotations

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
HEATMAP_STRIDE = 4


def crop_transform(
    box: tuple[float, float, float, float],
    input_size: tuple[int, int],
    pad: float = 1.25,
    scale: float = 1.0,
    rotation: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """2x3 affine matrix mapping image pixels to crop pixels for a box (x, y, w, h).

    The box is grown to the crop's aspect ratio, then by `pad` (and `scale`), rotated by
    `rotation` degrees about its centre and moved by `shift` (fractions of its size).
    """
    x, y, w, h = box
    out_w, out_h = input_size
    w, h = max(w, 1.0), max(h, 1.0)
    aspect = out_w / out_h
    if w / h > aspect:
        h = w / aspect
    else:
        w = h * aspect
    w, h = w * pad * scale, h * pad * scale
    cx = x + box[2] / 2 + shift[0] * w
    cy = y + box[3] / 2 + shift[1] * h
    s = out_w / w
    m = cv2.getRotationMatrix2D((cx, cy), rotation, s)
    m[0, 2] += out_w / 2 - cx
    m[1, 2] += out_h / 2 - cy
    return m.astype(np.float64)


def transform_points(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points (N, 2)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    return xy @ m[:, :2].T + m[:, 2]


def crop_image(image: np.ndarray, m: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """Cut the crop (HxWx3 uint8) of an RGB image with a 2x3 image->crop matrix."""
    return cv2.warpAffine(image, m, tuple(input_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def normalise(crop: np.ndarray):
    """HxWx3 uint8 RGB -> (3, H, W) float tensor with ImageNet normalisation."""
    import torch

    x = (crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))
