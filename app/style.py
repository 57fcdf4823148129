"""Colours shared by the canvas, the timeline and the panels."""
from __future__ import annotations

from PySide6.QtGui import QColor

# Distinct, colour-blind-friendly hues (Okabe-Ito first, then Tableau).
_PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
            "#17BECF", "#BCBD22", "#FF9DA7", "#9C755F", "#AEC7E8")


def track_colour(track_id: int) -> QColor:
    return QColor(_PALETTE[(track_id - 1) % len(_PALETTE)])


# Timeline cells, indexed by Video.frame_status(): empty, auto-filled, corrected, keyframe.
STATUS_COLOURS = (QColor("#3a3f47"), QColor("#4f8fd6"), QColor("#f0a030"), QColor("#3cc45a"))
STATUS_NAMES = ("empty", "auto-filled", "corrected", "keyframe (labelled)")
ABSENT_NAME = "not in view (X)"  # a "not in view" mark: a keyframe slot done, drawn apart from keyframes
REVIEWED = QColor("#8fe39a")  # a pose an annotator accepted as it is: the tick over its timeline cell
MISSING_KEYFRAME = QColor("#e04848")  # a k-th frame still without a label
CURSOR = QColor("#ffffff")

PROVENANCE_NAMES = ("—", "manual", "corrected", "propagated", "interpolated", "suggested")  # by Provenance value
VISIBILITY_NAMES = ("not labelled", "occluded", "visible")
