"""The strip under the canvas: one cell per frame, coloured by the selected person's status,
with the every-k-th keyframe slots marked, reviewed frames ticked (a check mark) and the
suggested next keyframe marked with a triangle; an overview bar of the whole video above it.
Click or drag to seek.

With two people, a frame where one is a keyframe and the other only filled must not look done:
the cells, ticks and slot marks are the selected person's; the other people's strongest status
is a thin band at the bottom of each cell, their reviewed poses a dim bar, and a suggested
keyframe of another person an outlined triangle (the selected person's is filled).

A "not in view" mark (X) is a keyframe slot done but no label: its cell is drawn empty with a
cross in the person's colour, not as a keyframe.

Painting touches only the visible cells (the detail strip shows a window of frames around the
current one) and the overview is reduced with numpy, so a 10,000-frame video costs the same
as a 100-frame one. Everything but the current-frame marks is kept in a pixmap until the status,
the size or the visible window changes: a step to the next frame repaints only the marks.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import navigation
from .style import ABSENT_NAME, CURSOR, MISSING_KEYFRAME, REVIEWED, STATUS_COLOURS, STATUS_NAMES

OTHERS_REVIEWED = QColor("#4f7a56")  # another person's reviewed pose: a dim bar along the top, half as wide
OTHERS_REVIEWED_H = 3  # px: the height of that bar
SUGGESTED = QColor("#ffb13b")  # the triangle over the suggested next keyframe
ABSENT_CROSS = QColor("#d0d4da")  # the "not in view" cross when no person colour is given
OTHERS_BAND = 5  # px: the other people's status along the bottom of a cell

OVERVIEW_H = 10
TICKS_H = 14
MIN_CELL = 7.0  # px per frame in the detail strip


class Timeline(QWidget):
    seekRequested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.status = np.zeros(0, np.uint8)
        self.reviewed = np.zeros(0, bool)
        self.suggested: int | None = None
        self.suggested_is_selected = True  # the suggested pose is the selected person's
        self.others: np.ndarray | None = None  # the other people's strongest status (None: one row)
        self.others_reviewed = np.zeros(0, bool)
        self.absent = np.zeros(0, bool)  # the selected person's "not in view" marks
        self.others_absent = np.zeros(0, bool)  # another person's
        self.person = ""  # whose marks the cells show, for the tooltip
        self.person_colour = QColor(ABSENT_CROSS)  # the cross of their marks
        self.stride = 10
        self.current = 0
        self.first = 0  # first frame shown in the detail strip
        self._overview = None  # cached per-pixel reduction of `status`
        self._base: QPixmap | None = None  # the painted strip without the current-frame marks
        self._base_key = None
        self.setMinimumHeight(OVERVIEW_H + TICKS_H + 26)
        self.setMaximumHeight(OVERVIEW_H + TICKS_H + 34)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMouseTracking(True)
        self._drag_area = None

    # --- model ----------------------------------------------------------------------------
    def set_status(self, status: np.ndarray, stride: int, others: np.ndarray | None = None,
                   person: str = "", absent=None, others_absent=None, colour: QColor | None = None) -> None:
        """Per frame: `status` of the selected person (or of every pose when nobody is selected)
        and `others`, the strongest status of the other people (None: not shown); `absent` and
        `others_absent`, where the person or another is marked not in view (crossed in `colour`)."""
        self.status = np.asarray(status, np.uint8)
        self.others = None if others is None else np.asarray(others, np.uint8)
        self.absent = np.zeros(0, bool) if absent is None else np.asarray(absent, bool).copy()
        self.others_absent = np.zeros(0, bool) if others_absent is None else np.asarray(others_absent, bool).copy()
        self.person = person
        self.person_colour = QColor(colour if colour is not None else ABSENT_CROSS)
        self.stride = max(1, int(stride))
        self._overview = None
        self._base = None
        self.update()

    def set_review_marks(self, reviewed: np.ndarray, suggested: int | None, others_reviewed=None,
                         suggested_is_selected: bool = True) -> None:
        """Frames where the selected person's pose (others_reviewed: another's) is marked
        reviewed, and the suggested next keyframe (or None), the selected person's or not."""
        reviewed = np.asarray(reviewed, bool)
        others_reviewed = np.zeros(0, bool) if others_reviewed is None else np.asarray(others_reviewed, bool)
        if (np.array_equal(reviewed, self.reviewed) and np.array_equal(others_reviewed, self.others_reviewed)
                and (suggested, suggested_is_selected) == (self.suggested, self.suggested_is_selected)):
            return
        self.reviewed, self.others_reviewed = reviewed.copy(), others_reviewed.copy()
        self.suggested, self.suggested_is_selected = suggested, suggested_is_selected
        self._base = None
        self.update()

    def set_current(self, frame: int) -> None:
        self.current = int(frame)
        n = self.visible_count()
        if not (self.first <= frame < self.first + n - 1) or self.first > max(0, len(self.status) - n):
            self.first = int(np.clip(frame - n // 2, 0, max(0, len(self.status) - n)))
        self.update()

    def visible_count(self) -> int:
        return max(1, int(self.width() / MIN_CELL))

    def cell_width(self) -> float:
        n = len(self.status)
        return self.width() / max(1, min(n, self.visible_count())) if n else MIN_CELL

    # --- geometry -------------------------------------------------------------------------
    def _strip_rect(self) -> QRectF:
        return QRectF(0, OVERVIEW_H + 4, self.width(), self.height() - OVERVIEW_H - 4 - TICKS_H)

    def frame_at(self, x: float, y: float) -> int:
        n = len(self.status)
        if n == 0:
            return 0
        area = self._drag_area or ("overview" if y < OVERVIEW_H + 2 else "strip")
        if area == "overview":
            return int(np.clip(x / self.width() * n, 0, n - 1))
        return int(np.clip(self.first + x // self.cell_width(), 0, n - 1))

    # --- painting -------------------------------------------------------------------------
    def _overview_colours(self) -> np.ndarray:
        """Strongest status per pixel column, cached until the status changes."""
        w = max(1, self.width())
        if self._overview is None or len(self._overview) != w:
            n = len(self.status)
            edges = (np.arange(w + 1) * n) // w
            edges = np.minimum(edges, n)
            starts = np.minimum(edges[:-1], max(0, n - 1))
            shown = self.status.copy()
            m = min(n, len(self.absent))
            shown[:m][self.absent[:m]] = 0  # a "not in view" mark is no keyframe here either
            self._overview = np.maximum.reduceat(shown, starts) if n else np.zeros(w, np.uint8)
        return self._overview

    def paintEvent(self, event):
        p = QPainter(self)
        n = len(self.status)
        if n == 0:
            p.fillRect(self.rect(), QColor("#1d2025"))
            return
        key = (self.width(), self.height(), self.devicePixelRatioF(), self.first)
        if self._base is None or self._base_key != key:
            self._base, self._base_key = self._paint_base(), key
        p.drawPixmap(0, 0, self._base)
        # The current frame: a mark in the overview and a frame round its cell in the strip.
        w = self.width()
        p.fillRect(QRectF(self.current / n * w - 1, 0, 2, OVERVIEW_H), CURSOR)
        cw = self.cell_width()
        if self.first <= self.current < min(n, self.first + int(w / cw) + 1):
            strip = self._strip_rect()
            x = (self.current - self.first) * cw
            p.setPen(QPen(CURSOR, 2))
            p.setBrush(Qt.NoBrush)
            p.drawRect(QRectF(x - 1, strip.top() - 2, cw + 1, strip.height() + 4))

    def _paint_base(self) -> QPixmap:
        """The overview, the cells of the visible frames and the ticks, without the cursor."""
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(QColor("#1d2025"))
        p = QPainter(pixmap)
        n = len(self.status)
        w = self.width()
        # Overview: one column per pixel, runs of equal colour drawn as one rectangle.
        ov = self._overview_colours()
        change = np.flatnonzero(np.diff(ov)) + 1
        starts = np.concatenate([[0], change])
        stops = np.concatenate([change, [len(ov)]])
        for a, b in zip(starts, stops):
            p.fillRect(QRectF(a, 0, b - a, OVERVIEW_H), STATUS_COLOURS[ov[a]])
        span_x0 = self.first / n * w
        span_w = max(2.0, min(n, self.visible_count()) / n * w)
        p.setPen(QPen(QColor(255, 255, 255, 150), 1))
        p.setBrush(Qt.NoBrush)
        p.drawRect(QRectF(span_x0, 0.5, span_w, OVERVIEW_H - 1))

        # Detail strip: only the visible frames.
        strip = self._strip_rect()
        cw = self.cell_width()
        last = min(n, self.first + int(w / cw) + 1)
        gap = 1.0 if cw >= 5 else 0.0
        others = self.others if self.others is not None and len(self.others) == n else None
        band = QRectF(0, strip.bottom() - 4 - OTHERS_BAND, 0, OTHERS_BAND)  # above the slot mark
        for f in range(self.first, last):
            x = (f - self.first) * cw
            s = int(self.status[f])
            absent = f < len(self.absent) and self.absent[f]
            p.fillRect(QRectF(x, strip.top(), cw - gap, strip.height()), STATUS_COLOURS[0 if absent else s])
            if absent:  # a cross, not a keyframe's colour: nobody to label here
                self._paint_cross(p, QRectF(x, strip.top(), cw - gap, band.top() - 1 - strip.top()))
            if others is not None:
                p.fillRect(QRectF(x, band.top() - 1, cw - gap, 1), QColor("#1d2025"))
                p.fillRect(QRectF(x, band.top(), cw - gap, band.height()), STATUS_COLOURS[int(others[f])])
            if navigation.is_slot(f, len(self.status), self.stride):
                slot = QRectF(x, strip.bottom() - 4, cw - gap, 4)
                p.fillRect(slot, QColor("#ffffff") if s == 3 else MISSING_KEYFRAME)
            if f < len(self.reviewed) and self.reviewed[f]:
                self._paint_tick(p, QRectF(x, strip.top(), cw - gap, band.top() - 1 - strip.top()))
            elif f < len(self.others_reviewed) and self.others_reviewed[f]:
                p.fillRect(QRectF(x + cw / 4, strip.top(), max(1.0, cw / 2 - gap), OTHERS_REVIEWED_H),
                           OTHERS_REVIEWED)
        if self.suggested is not None and self.first <= self.suggested < last:
            x = (self.suggested - self.first) * cw + (cw - gap) / 2
            half = max(3.0, min(cw / 2, 6.0))
            if self.suggested_is_selected:
                p.setPen(Qt.NoPen)
                p.setBrush(SUGGESTED)
            else:  # another person's: outlined
                p.setPen(QPen(SUGGESTED, 1.5))
                p.setBrush(Qt.NoBrush)
            p.drawPolygon([QPointF(x - half, strip.top() + 0.75), QPointF(x + half, strip.top() + 0.75),
                           QPointF(x, strip.top() + 1.6 * half)])
        # Ticks with frame numbers.
        p.setPen(QColor("#b8bec8"))
        font = QFont()
        font.setPointSizeF(7.5)
        p.setFont(font)
        label_every = self._label_step(cw)
        first_label = (self.first + label_every - 1) // label_every * label_every
        fm = p.fontMetrics()
        for f in range(first_label, last, label_every):
            x = (f - self.first) * cw
            p.drawLine(int(x), int(strip.bottom()), int(x), int(strip.bottom()) + 4)
            if x + 2 + fm.horizontalAdvance(str(f)) <= w:  # a number cut at the right edge misleads
                p.drawText(int(x) + 2, self.height() - 2, str(f))
        p.end()
        return pixmap

    @staticmethod
    def _paint_tick(p: QPainter, cell: QRectF) -> None:
        """The reviewed mark: a tick (check mark) in the upper part of the cell, outlined in dark so
        it reads on every cell colour (a 3 px bar along the top was a faint edge at 1366x768)."""
        w = cell.width() - 1
        h = min(w * 1.1, cell.height())
        x, y = cell.left() + 0.5, cell.top() + 0.5
        tick = [QPointF(x + 0.1 * w, y + 0.55 * h), QPointF(x + 0.4 * w, y + 0.9 * h),
                QPointF(x + 0.95 * w, y + 0.1 * h)]
        p.save()
        p.setRenderHint(QPainter.Antialiasing)
        for colour, width in ((QColor("#1d2025"), 3.4), (REVIEWED, 1.8)):
            p.setPen(QPen(colour, width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
            p.drawPolyline(tick)
        p.restore()

    def _paint_cross(self, p: QPainter, cell: QRectF) -> None:
        """The "not in view" mark: an X in the person's colour from corner to corner of the cell."""
        box = cell.adjusted(1, 1, -1, -1)
        p.save()
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(self.person_colour, 1.6, Qt.SolidLine, Qt.RoundCap))
        p.drawLine(box.topLeft(), box.bottomRight())
        p.drawLine(box.bottomLeft(), box.topRight())
        p.restore()

    @staticmethod
    def _label_step(cw: float) -> int:
        for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
            if step * cw >= 46:
                return step
        return 10000

    # --- mouse ----------------------------------------------------------------------------
    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton:
            y = event.position().y()
            self._drag_area = "overview" if y < OVERVIEW_H + 2 else "strip"
            self.seekRequested.emit(self.frame_at(event.position().x(), y))

    def mouseMoveEvent(self, event):
        x, y = event.position().x(), event.position().y()
        if self._drag_area is not None and event.buttons() & Qt.LeftButton:
            self.seekRequested.emit(self.frame_at(x, y))
        elif len(self.status):
            self.setToolTip(self.describe(self.frame_at(x, y)))

    def describe(self, f: int) -> str:
        """A frame's marks in words (the tooltip)."""
        absent = f < len(self.absent) and self.absent[f]
        text = f"frame {f}: " + (f"{self.person} " if self.person else "") + (
            ABSENT_NAME if absent else STATUS_NAMES[int(self.status[f])])
        if f < len(self.reviewed) and self.reviewed[f]:
            text += ", reviewed"
        if self.suggested == f and self.suggested_is_selected:
            text += ", suggested keyframe"
        if self.others is not None and len(self.others) == len(self.status):
            others_absent = f < len(self.others_absent) and self.others_absent[f]
            if others_absent and self.others[f] == 0:
                text += f" · others: {ABSENT_NAME}"
            else:
                text += f" · others: {STATUS_NAMES[int(self.others[f])]}" + (
                    f", one {ABSENT_NAME}" if others_absent else "")
            if f < len(self.others_reviewed) and self.others_reviewed[f]:
                text += ", reviewed"
            if self.suggested == f and not self.suggested_is_selected:
                text += ", suggested keyframe"
        return text + ("  · keyframe slot" if navigation.is_slot(f, len(self.status), self.stride) else "")

    def mouseReleaseEvent(self, event):
        self._drag_area = None

    def resizeEvent(self, event):
        self._overview = None
        self._base = None
        self.set_current(self.current)
        super().resizeEvent(event)
