"""Person crops as the official code makes them (spec 3.3, 4.2).

A box becomes a centre and a scale (in units of 200 px) with the model's aspect ratio and a
x1.25 margin; the crop is the similarity transform (scale, rotation) taking the centre to the
middle of the output and `200 * scale[0]` image pixels to the output width, cut with
cv2.warpAffine (bilinear, zero border). Heatmap coordinates map back through the same
transform built for the heatmap size (no half-pixel shift, as the official decoder).
"""
from __future__ import annotations

import cv2
import numpy as np

PIXEL_STD = 200.0
BOX_SCALE = 1.25
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def box_to_center_scale(box_xywh, aspect: float, scale_factor: float = BOX_SCALE
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Box (x, y, w, h) -> centre (2,) and scale (2,) in 200-px units: the shorter side is
    enlarged until w/h == aspect (the model's input width/height), then x scale_factor."""
    x, y, w, h = (float(v) for v in box_xywh)
    center = np.array([x + w * 0.5, y + h * 0.5], np.float32)
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], np.float32) * scale_factor
    return center, scale


def affine_transform(center, scale, output_size: tuple[int, int], rotation: float = 0.0,
                     inverse: bool = False) -> np.ndarray:
    """2x3 matrix from image to output (W, H) pixels (or back with `inverse`): the centre goes to
    (W/2, H/2), 200*scale[0] image px span W output px, the image turns by `rotation` degrees
    (counter-clockwise on screen, as the official get_affine_transform)."""
    c = np.asarray(center, np.float64)
    k = float(output_size[0]) / (float(np.asarray(scale).reshape(-1)[0]) * PIXEL_STD)
    r = np.deg2rad(rotation)
    cs, sn = np.cos(r), np.sin(r)
    rot = np.array([[cs, sn], [-sn, cs]])  # R(-rotation) in (x, y) with y down
    mid = np.array([output_size[0] * 0.5, output_size[1] * 0.5])
    if inverse:
        lin = rot.T / k
        return np.hstack([lin, (c - lin @ mid)[:, None]])
    lin = rot * k
    return np.hstack([lin, (mid - lin @ c)[:, None]])


def transform_points(points, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points (...,2)."""
    p = np.asarray(points, np.float64)
    return p @ matrix[:, :2].T + matrix[:, 2]


def crop_image(image: np.ndarray, center, scale, output_size: tuple[int, int],
               rotation: float = 0.0) -> np.ndarray:
    """The (H, W, C) crop of `image` for (center, scale) at output_size (W, H)."""
    m = affine_transform(center, scale, output_size, rotation)
    return cv2.warpAffine(image, m, (int(output_size[0]), int(output_size[1])),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def image_to_heatmap(xy_img, center, scale, heatmap_size: tuple[int, int],
                     rotation: float = 0.0) -> np.ndarray:
    """Image coordinates (...,2) -> heatmap coordinates for heatmap_size (W, H)."""
    return transform_points(xy_img, affine_transform(center, scale, heatmap_size, rotation))


def heatmap_to_image(xy_hm, center, scale, heatmap_size: tuple[int, int],
                     rotation: float = 0.0) -> np.ndarray:
    """Heatmap coordinates (...,2) -> image coordinates (official transform_preds for
    rotation 0: x = c_x + (x_hm - W/2) * 200 * s_x / W)."""
    return transform_points(xy_hm, affine_transform(center, scale, heatmap_size, rotation,
                                                    inverse=True))


def normalise(crop_rgb: np.ndarray):
    """uint8 RGB crop (H, W, 3) -> float tensor (3, H, W) with ImageNet mean/std."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(crop_rgb)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (t - mean) / std
