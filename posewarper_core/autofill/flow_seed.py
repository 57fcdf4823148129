"""Dense DIS flow as the starting point of the learned warp ("flow-seeded" PoseWarper).

For a step src -> dst the joints are first moved by the flow src -> dst (exactly what the flow
method does), and frame src is pulled onto frame dst with the flow dst -> src, so the network
compares two frames that flow already aligned and only has to correct what flow got wrong.
Flow runs on the region around the people, downscaled, as in flow.py; each pair is computed
once per span and shared by every track and both chains.
"""
from __future__ import annotations

import cv2
import numpy as np

from .flow import FLOW_CACHE_BYTES, GRAY_CACHE_BYTES, FlowMethod, _BoundedCache, sample_flow


class FlowField:
    """The DIS flows between the frames of one span, in image pixels."""

    def __init__(self, frames, anchors, one_sided: bool, check=None, max_side: int = 960):
        helper = FlowMethod("dis", max_side=max_side)
        self.region, self.scale = helper._region(frames, anchors, one_sided=one_sided)
        self.origin = np.array(self.region[:2], np.float64)
        self._flow_fn = helper._flow
        self._frames = frames
        self._check = check
        self._gray = _BoundedCache(GRAY_CACHE_BYTES)
        self._flows = _BoundedCache(FLOW_CACHE_BYTES)

    def _load(self, i: int) -> np.ndarray:
        x0, y0, x1, y1 = self.region
        g = cv2.cvtColor(np.ascontiguousarray(self._frames.frame(i)[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
        if self.scale != 1.0:
            size = (max(1, round(g.shape[1] * self.scale)), max(1, round(g.shape[0] * self.scale)))
            g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        return g

    def flow(self, src: int, dst: int) -> np.ndarray:
        """Flow src -> dst in working pixels (region, downscaled)."""
        def compute():
            if self._check:
                self._check()
            a = self._gray.get(src, lambda: self._load(src))
            b = self._gray.get(dst, lambda: self._load(dst))
            return self._flow_fn(a, b)
        return self._flows.get((src, dst), compute)

    def displacement(self, src: int, dst: int, pts: np.ndarray) -> np.ndarray:
        """Image-pixel motion src -> dst at image points (N, 2)."""
        work = (np.asarray(pts, np.float64) - self.origin) * self.scale
        return sample_flow(self.flow(src, dst), work) / self.scale

    def move(self, src: int, dst: int, pts: np.ndarray) -> np.ndarray:
        """Image points (N, 2) of frame src moved into frame dst by the flow."""
        return np.asarray(pts, np.float64) + self.displacement(src, dst, pts)

    def aligned_crop(self, image_src: np.ndarray, src: int, dst: int, m: np.ndarray,
                     input_size: tuple[int, int]) -> np.ndarray:
        """The crop (m: image -> crop) of frame src pulled onto frame dst's geometry."""
        w, h = input_size
        inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        grid = np.stack([u.ravel(), v.ravel()], axis=1) @ inv[:, :2].T + inv[:, 2]
        where = grid + self.displacement(dst, src, grid)  # where each dst pixel was in frame src
        maps = where.reshape(h, w, 2).astype(np.float32)
        return cv2.remap(image_src, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
