"""Dense optical flow, chained frame to frame from each keyframe (OpenCV DIS or Farneback).

Per span (the frames between two keyframes) every frame pair's flow is computed once and used
for all tracks of the span. Flow runs on a region around the people (the keyframe boxes, grown)
and, when that region is large, on a downscaled copy: both only for speed. OpenCV releases the
GIL while it computes, so a GUI thread stays responsive.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..annotation import Pose, Provenance
from ..errors import PoseWarperError
from .engine import Side, Span

FB_SCALE = 8.0  # accumulated forward-backward mismatch (working pixels) at which quality is 1/e
ROI_MARGIN = 0.5  # the region around the people grows by this fraction of its size on each side
ROI_MIN_MARGIN = 48  # ... and by at least this many pixels
ROI_MAX_AREA = 0.6  # above this fraction of the frame, flow runs on the whole frame


def make_flow_function(algorithm: str):
    """A function (gray_a, gray_b) -> flow (H, W, 2) float32 moving pixels of a onto b."""
    if algorithm == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    if algorithm == "farneback":
        # The parameters of OpenCV's sample and of the paper's baseline era.
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise PoseWarperError(f"unknown flow algorithm {algorithm!r}; choose dis or farneback")


def sample_flow(flow: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear flow at points (N, 2) in the flow's pixel grid; points outside use the border."""
    h, w = flow.shape[:2]
    x = np.clip(pts[:, 0], 0, w - 1)
    y = np.clip(pts[:, 1], 0, h - 1)
    x0 = np.clip(np.floor(x).astype(np.int64), 0, max(w - 2, 0))
    y0 = np.clip(np.floor(y).astype(np.int64), 0, max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = flow[y0, x0] * (1 - fx) + flow[y0, x1] * fx
    bottom = flow[y1, x0] * (1 - fx) + flow[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float64)


class FlowMethod:
    """Propagate joints by chaining dense flow from each keyframe through the span's frames.

    `max_side`: flow runs on the region around the people downscaled so that its longer side is
    at most this many pixels. `roi`: restrict flow to that region (False: always the whole frame).
    """

    provenance = Provenance.PROPAGATED
    half_life = 15.0
    needs_frames = True

    def __init__(self, algorithm: str = "dis", max_side: int = 960, roi: bool = True, name: str | None = None):
        self.algorithm = algorithm
        self.name = name or ("flow" if algorithm == "dis" else f"flow-{algorithm}")
        self.max_side = max_side
        self.roi = roi
        self._flow = make_flow_function(algorithm)

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        region, scale = self._region(frames, [p for ps in (before, after) if ps for p in ps])
        gray: dict[int, np.ndarray] = {}
        flows: dict[tuple[int, int], np.ndarray] = {}

        def image(i: int) -> np.ndarray:
            if i not in gray:
                x0, y0, x1, y1 = region
                rgb = np.ascontiguousarray(frames.frame(i)[y0:y1, x0:x1])
                g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
                if scale != 1.0:
                    size = (max(1, round(g.shape[1] * scale)), max(1, round(g.shape[0] * scale)))
                    g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
                gray[i] = g
            return gray[i]

        def flow(src: int, dst: int) -> np.ndarray:
            if (src, dst) not in flows:
                check()
                flows[(src, dst)] = self._flow(image(src), image(dst))
            return flows[(src, dst)]

        # Compute every flow first, so each chain step can look up the reverse flow.
        steps_fwd = [(t, t + 1) for t in range(span.before, span.last)] if before else []
        steps_bwd = [(t, t - 1) for t in range(span.after, span.first, -1)] if after else []
        for src, dst in steps_fwd + steps_bwd:
            flow(src, dst)
        fwd = self._chain(before, steps_fwd, span, flows, region, scale) if before else None
        bwd = self._chain(after, steps_bwd, span, flows, region, scale) if after else None
        return fwd, bwd

    def _region(self, frames, poses: list[Pose]) -> tuple[tuple[int, int, int, int], float]:
        """The pixel region (x0, y0, x1, y1) that flow runs on, and the working scale."""
        w, h = frames.width, frames.height
        region = (0, 0, w, h)
        if self.roi:
            boxes = [b for b in (p.box_or_extent() for p in poses) if b is not None]
            if boxes:
                x0 = min(b[0] for b in boxes)
                y0 = min(b[1] for b in boxes)
                x1 = max(b[0] + b[2] for b in boxes)
                y1 = max(b[1] + b[3] for b in boxes)
                m = max(ROI_MARGIN * max(x1 - x0, y1 - y0), ROI_MIN_MARGIN)
                cand = (max(0, int(x0 - m)), max(0, int(y0 - m)), min(w, int(np.ceil(x1 + m))), min(h, int(np.ceil(y1 + m))))
                area = (cand[2] - cand[0]) * (cand[3] - cand[1])
                if cand[2] - cand[0] >= 16 and cand[3] - cand[1] >= 16 and area <= ROI_MAX_AREA * w * h:
                    region = cand
        longer = max(region[2] - region[0], region[3] - region[1])
        scale = min(1.0, self.max_side / longer) if self.max_side else 1.0
        return region, scale

    @staticmethod
    def _chain(poses, steps, span: Span, flows, region, scale) -> Side:
        """Move the anchor joints along `steps`, recording positions at the span's frames."""
        num_poses, num_joints = len(poses), poses[0].num_joints
        origin = np.array(region[:2], np.float64)
        pts = (np.concatenate([p.xy for p in poses]) - origin) * scale  # working pixels
        mismatch = np.zeros(len(pts))
        xy = np.zeros((num_poses, len(span.frames), num_joints, 2))
        q_out = np.ones((num_poses, len(span.frames), num_joints))
        for src, dst in steps:
            d = sample_flow(flows[(src, dst)], pts)
            back = flows.get((dst, src))
            if back is not None:  # forward-backward consistency: a step and its reverse should cancel
                mismatch += np.linalg.norm(d + sample_flow(back, pts + d), axis=1)
            pts = pts + d
            if span.first <= dst <= span.last:
                ti = dst - span.first
                xy[:, ti] = (pts / scale + origin).reshape(num_poses, num_joints, 2)
                q_out[:, ti] = np.exp(-mismatch / FB_SCALE).reshape(num_poses, num_joints)
        return Side(xy=xy, quality=q_out)
