"""Dense DIS flow as the starting point of the learned warp ("flow-seeded" PoseWarper).

For a step src -> dst the joints are first moved by the flow src -> dst (exactly what the flow
method does, flow.FlowField), and frame src is pulled onto frame dst with the flow dst -> src, so
the network compares two frames that flow already aligned and only has to correct what flow got
wrong.
"""
from __future__ import annotations

import cv2
import numpy as np

from .flow import FlowField


def aligned_crop(field: FlowField, image_src: np.ndarray, src: int, dst: int, m: np.ndarray,
                 input_size: tuple[int, int]) -> np.ndarray:
    """The crop (m: image -> crop) of frame src pulled onto frame dst's geometry."""
    w, h = input_size
    inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    grid = np.stack([u.ravel(), v.ravel()], axis=1) @ inv[:, :2].T + inv[:, 2]
    where = grid + field.displacement(dst, src, grid)  # where each dst pixel was in frame src
    maps = where.reshape(h, w, 2).astype(np.float32)
    return cv2.remap(image_src, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
