"""The accuracy-against-effort curve of `posewarper bench-effort` as a PNG, drawn with OpenCV
(no plotting library needed): residual error (%) against effort (clicks + looks), one line per
strategy and k, the bar (2 %) dashed."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .atomic_file import replacing
from .errors import PoseWarperError

COLOURS = {"cvat-like": (40, 40, 200), "uniform": (200, 120, 30), "guided": (40, 160, 40),  # BGR
           "uniform-proposed": (150, 150, 150), "uniform-suggested": (170, 60, 170)}
SIZE = (900, 560)  # width, height in pixels
MARGIN = (80, 30, 190, 60)  # left, top, right, bottom


def draw_curves(results: list[dict], path: Path, title: str = "", bar: float = 0.02, max_residual: float = 0.1) -> None:
    """Write the PNG. Each result's "curve" holds [effort, residual error] points in work order;
    residual errors above `max_residual` are drawn at the top edge."""
    w, h = SIZE
    left, top, right, bottom = MARGIN
    img = np.full((h, w, 3), 255, np.uint8)
    pw, ph = w - left - right, h - top - bottom
    max_effort = max((p[0] for r in results for p in r["curve"]), default=1) or 1
    max_effort = float(np.ceil(max_effort / 100.0) * 100)

    def at(effort, residual):
        x = left + pw * effort / max_effort
        y = top + ph * (1 - min(residual, max_residual) / max_residual)
        return int(round(x)), int(round(y))

    font = cv2.FONT_HERSHEY_SIMPLEX
    for i in range(6):  # grid and tick labels
        e = max_effort * i / 5
        x, _ = at(e, 0)
        cv2.line(img, (x, top), (x, top + ph), (225, 225, 225), 1)
        cv2.putText(img, f"{e:.0f}", (x - 15, top + ph + 20), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
        r = max_residual * i / 5
        _, y = at(0, r)
        cv2.line(img, (left, y), (left + pw, y), (225, 225, 225), 1)
        cv2.putText(img, f"{100 * r:.0f}%", (left - 45, y + 5), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    _, yb = at(0, bar)
    for x in range(left, left + pw, 12):  # the bar, dashed
        cv2.line(img, (x, yb), (min(x + 6, left + pw), yb), (0, 0, 0), 1)
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    cv2.putText(img, "effort (clicks + looks)", (left + pw // 2 - 90, h - 15), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "residual", (5, top + 12), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    if title:
        cv2.putText(img, title, (left, top - 10), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ks = sorted({r["k"] for r in results})
    thickness = {k: 1 + i for i, k in enumerate(ks)}  # thicker line: larger k
    legend_y = top + 10
    for r in results:
        colour = COLOURS.get(r["strategy"], (120, 120, 120))
        pts = np.array([at(e, res) for e, res, *_ in r["curve"]], np.int32)
        if len(pts):
            cv2.polylines(img, [pts], False, colour, thickness[r["k"]], cv2.LINE_AA)
            cv2.circle(img, tuple(int(v) for v in pts[-1]), 4, colour, -1, cv2.LINE_AA)
        cv2.line(img, (left + pw + 12, legend_y - 4), (left + pw + 40, legend_y - 4), colour, thickness[r["k"]])
        cv2.putText(img, f"{r['strategy']} k={r['k']}", (left + pw + 46, legend_y), font, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
        legend_y += 18
    path = Path(path)
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise PoseWarperError(f"{path}: could not encode the plot")
    with replacing(path, binary=True) as out:  # never over a project, nothing half-written
        out.write(data.tobytes())
