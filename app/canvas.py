"""The frame with its skeletons: zoom around the cursor, pan, hover names, mouse editing.

The canvas never edits poses itself: it emits what the user did (place, move a joint, move a
pose, flag a joint) and the editor turns that into undoable commands. During a drag it only
draws a preview, so one drag is one command.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView

from posewarper_core.annotation import AUTO_PROVENANCE, Pose, Provenance, Visibility, is_auto
from posewarper_core.review import DOUBTFUL_BELOW

from . import edits, namelabels
from .style import track_colour

HIT_RADIUS_PX = 9.0
# While a joint waits to be placed, a press on an old joint places the new one unless the mouse
# then moves this far (screen px) with the button down: a click's own jitter stays below it.
DRAG_START_PX = 4
PLACED_LABEL_MS = 1500  # how long the name of the joint a click placed stays by it
# Zoom limits, relative to the whole frame fitting the view: out to half of it, in to 100x (a
# joint on a 4K frame at fit, 0.25 screen px per pixel, then spans 25 screen px per pixel).
MIN_ZOOM, MAX_ZOOM = 0.5, 100.0
WHEEL_NOTCH_ZOOM = 1.2  # one wheel notch (120 eighths of a degree)
PERSON_MARGIN = 0.35  # fit-to-person leaves this share of the person's size free around them
_DASH, _DOT, _NO_BRUSH = Qt.DashLine, Qt.DotLine, Qt.NoBrush
_OCCLUDED, _CORRECTED, _SUGGESTED = int(Visibility.OCCLUDED), int(Provenance.CORRECTED), int(Provenance.SUGGESTED)
_OUTLINE, _CORRECTED_OUTLINE = QColor("#ffffff"), QColor("#ff4fd8")
_HALO = QColor(0, 0, 0, 160)  # dark under a ring: it stays visible on light frames
_DOUBT = QColor("#ffb300")  # a doubted filled joint's ring: the joints to fix must be the easiest to see


class FrameItem(QGraphicsItem):
    """Paints the decoded frame (a QImage) without converting it to a pixmap first."""

    def __init__(self):
        super().__init__()
        self.image: QImage | None = None
        self.size = (640, 480)
        self.fast = False  # nearest-neighbour scaling while the user steps through frames

    def set_image(self, image: QImage | None, size: tuple[int, int]) -> None:
        if size != self.size:
            self.prepareGeometryChange()
            self.size = size
        self.image = image
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self.size)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.image is None:
            painter.fillRect(self.boundingRect(), QColor("#202226"))
            return
        smooth = not self.fast and painter.worldTransform().m11() < 2.0
        painter.setRenderHint(QPainter.SmoothPixmapTransform, smooth)
        painter.drawImage(self.boundingRect(), self.image)


class PoseLayer(QGraphicsItem):
    """All poses of the shown frame, drawn in one pass with sizes fixed in screen pixels."""

    def __init__(self, skeleton):
        super().__init__()
        self.skeleton = skeleton
        self.poses: dict[int, Pose] = {}
        self.selected: int | None = None
        self.hover: tuple[int, int] | None = None  # (track id, joint)
        self.next_joint: int | None = None
        self.placed: tuple[int, int] | None = None  # (track, joint) a click just placed: its name is shown
        self.marker_scale = 1.0  # the user's marker size (View menu), times the default
        self.show_names = False  # every placed joint's name beside it
        self.onion: list[tuple[int, int, Pose]] = []  # (track, frame, pose) of neighbouring keyframes, drawn faint beneath
        self.onion_frame: int | None = None  # the frame they are drawn on
        self.ghost_labels_drawn: list[QRectF] = []  # their labels' screen boxes at the last paint
        self.size = (640, 480)

    def _smooth_again(self) -> None:
        self.frame_item.fast = False
        self.frame_item.update()

    def set_poses(self, poses: dict[int, Pose]) -> None:
        self.poses = dict(poses)
        self.update()

    def boundingRect(self) -> QRectF:
        w, h = self.size
        return QRectF(-w, -h, 3 * w, 3 * h)  # joints may lie a little outside the image

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scale = max(painter.worldTransform().m11(), 1e-6)
        painter.setRenderHint(QPainter.Antialiasing, True)
        self.ghost_labels_drawn = []
        for tid, frame, pose in self.onion:
            self._paint_ghost(painter, tid, frame, pose, scale)
        order = sorted(self.poses, key=lambda t: t == self.selected)  # selected on top
        for tid in order:
            self._paint_pose(painter, tid, self.poses[tid], scale)
        if self.show_names:
            self._paint_names(painter, order)
        if self.placed is not None and self.placed[0] in self.poses and not self._under_hover_label(painter):
            tid, j = self.placed
            pose = self.poses[tid]
            if pose.visibility[j] != Visibility.NOT_LABELLED:
                self._paint_label(painter, pose.xy[j], "placed " + self.skeleton.joints[j], scale)
        if self.hover is not None and self.hover[0] in self.poses:
            tid, j = self.hover
            pose = self.poses[tid]
            self._paint_label(painter, pose.xy[j], self._joint_label(pose, j), scale)

    def _paint_ghost(self, painter: QPainter, tid: int, frame: int, pose: Pose, scale: float) -> None:
        """A neighbouring keyframe's pose: thin, faint lines and dots, under the frame's own, with
        its frame number above it (a trial could not tell which keyframe it showed)."""
        c = QColor(track_colour(tid))
        c.setAlphaF(0.35)
        painter.setPen(QPen(c, 1.2 / scale))
        painter.setBrush(QBrush(c))
        lab = pose.labelled()
        lines = [QLineF(*pose.xy[a], *pose.xy[b]) for a, b in self.skeleton.edges if lab[a] and lab[b]]
        if lines:
            painter.drawLines(lines)
        r = 2.0 * self.marker_scale / scale
        for x, y in pose.xy[lab].tolist():
            painter.drawEllipse(QPointF(x, y), r, r)
        if lab.any():
            # the keyframe before on the left of its head, the one after on the right, so the two
            # labels of a person who barely moved do not overlap; shadowed, as the joint names are
            top = pose.xy[lab][np.argmin(pose.xy[lab][:, 1])]
            at = painter.worldTransform().map(QPointF(*top))
            painter.save()
            painter.resetTransform()  # screen pixels
            font = QFont()
            font.setPointSizeF(7.5)
            painter.setFont(font)
            earlier = self.onion_frame is not None and frame < self.onion_frame
            text = f"← keyframe {frame}" if earlier else f"keyframe {frame} →"
            metrics = QFontMetrics(font)
            width = metrics.horizontalAdvance(text)
            base = at + (QPointF(-width - 6, -8) if earlier else QPointF(6, -8))
            box = QRectF(base.x(), base.y() - metrics.ascent(), width + 1, metrics.height() + 1)
            # above another ghost's label where they meet (a trial read the jumper's and the
            # walker's keyframe numbers drawn over each other)
            while any(box.intersects(other) for other in self.ghost_labels_drawn):
                box.translate(0, -box.height())
            base = QPointF(base.x(), box.top() + metrics.ascent())
            self.ghost_labels_drawn.append(box)
            painter.setPen(QColor(0, 0, 0, 160))
            painter.drawText(base + QPointF(1, 1), text)
            painter.setPen(QColor(track_colour(tid)))  # opaque: the ghost's faint colour is hard to read
            painter.drawText(base, text)
            painter.restore()

    def _paint_names(self, painter, order: list[int]) -> None:
        """Every placed joint's name beside it, none over another (namelabels.py): the selected
        person's next joint first, then the selected person's, then the others'; a name with no
        free place round its joint is left out. Kept in `names_drawn` (key, screen box)."""
        to_screen = painter.worldTransform()
        font = QFont()
        font.setPointSizeF(7.5)
        fm = QFontMetrics(font)
        labels = []
        keep = 0
        for tid in reversed(order):  # `order` draws the selected person last, on top
            pose = self.poses[tid]
            joints = np.flatnonzero(pose.labelled()).tolist()
            if tid == self.selected and self.next_joint in joints and (tid, self.next_joint) != self.hover:
                joints.remove(self.next_joint)
                joints.insert(0, self.next_joint)
                keep = 1  # the selected joint's name is drawn whatever it would cover
            for j in joints:
                if (tid, j) == self.hover:
                    continue  # its hover label says more, and is drawn anyway
                text = self.skeleton.joints[j]
                at = to_screen.map(QPointF(*pose.xy[j]))
                labels.append(((tid, j, text), (at.x(), at.y()), (fm.horizontalAdvance(text) + 2, fm.height())))
        taken = [box for box in (self._label_box(self.hover, to_screen), self._label_box(self.placed, to_screen))
                 if box is not None]
        # A name must not hide a joint either: every marker drawn is a box names keep clear of.
        r = 6.0 * self.marker_scale  # the largest marker's radius (a selected person's placed joint)
        joints = []
        for pose in self.poses.values():
            for x, y in pose.xy[pose.labelled()].tolist():
                at = to_screen.map(QPointF(x, y))
                joints.append((at.x(), at.y()))
                taken.append((at.x() - r, at.y() - r, 2 * r, 2 * r))
        placed = namelabels.place(labels, taken, gap=r + 2, keep=keep, joints=joints)
        size = {key: wh for key, _, wh in labels}
        self.names_drawn = [((tid, j), (x, y, *size[tid, j, text])) for (tid, j, text), x, y in placed]
        painter.save()
        painter.resetTransform()  # screen pixels
        painter.setFont(font)
        for (_, _, text), x, y in placed:
            base = QPointF(x + 1, y + fm.ascent())
            painter.setPen(QColor(0, 0, 0, 200))
            painter.drawText(base + QPointF(1, 1), text)  # a dark shadow, readable on light and dark frames
            painter.setPen(QColor("#ffffff"))
            painter.drawText(base, text)
        painter.restore()

    names_drawn: list = []

    def _under_hover_label(self, painter) -> bool:
        """The "placed" label would lie under the hover label (the same joint, or one next to it:
        a trial saw "placed left_ankle" under "right_ankle"); the hover label wins."""
        if self.hover is None:
            return False
        if self.placed == self.hover:
            return True
        to_screen = painter.worldTransform()
        a, b = self._label_box(self.placed, to_screen), self._label_box(self.hover, to_screen)
        if a is None or b is None:
            return False
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    def _label_box(self, which, to_screen) -> tuple | None:
        """The screen box of the boxed label (_paint_label) at joint `which` = (track, joint), if drawn."""
        if which is None or which[0] not in self.poses:
            return None
        pose = self.poses[which[0]]
        if pose.visibility[which[1]] == Visibility.NOT_LABELLED:
            return None
        font = QFont()
        font.setPointSizeF(9.5)
        fm = QFontMetrics(font)
        text = self._joint_label(pose, which[1]) if which == self.hover else "placed " + self.skeleton.joints[which[1]]
        at = to_screen.map(QPointF(*pose.xy[which[1]]))
        w, h = fm.horizontalAdvance(text) + 8, fm.height() + 4
        return (at.x() + 10, at.y() - h - 6, w, h)

    def _joint_label(self, pose: Pose, j: int) -> str:
        text = self.skeleton.joints[j]
        if pose.provenance[j] == Provenance.SUGGESTED:
            text += "  (suggested: drag or A to accept)"
        elif pose.provenance[j] in AUTO_PROVENANCE:
            text += f"  (auto {pose.confidence[j]:.2f})"
        elif pose.visibility[j] == Visibility.OCCLUDED:
            text += "  (occluded)"
        return text

    def _paint_pose(self, painter: QPainter, tid: int, pose: Pose, scale: float) -> None:
        # Plain Python lists and enum values looked up once: with every frame auto-filled this
        # runs for every person on every step, and per-joint numpy/enum access added up.
        colour = track_colour(tid)
        selected = tid == self.selected
        xy = [QPointF(x, y) for x, y in pose.xy.tolist()]
        lab = pose.labelled().tolist()
        auto = is_auto(pose.provenance).tolist()
        provenance = pose.provenance.tolist()
        suggested = [p == _SUGGESTED for p in provenance]  # not a label until accepted or dragged
        conf = [0.6 if s else c for c, s in zip(pose.confidence.tolist(), suggested)]
        width = (3.0 if selected else 2.0) / scale
        solid_colour = QColor(colour)
        solid_colour.setAlphaF(0.9)
        solid, dashed = [], []
        for a, b in self.skeleton.edges:
            if lab[a] and lab[b]:
                (dashed if auto[a] or auto[b] or suggested[a] or suggested[b] else solid).append((a, b))
        if solid:
            painter.setPen(QPen(solid_colour, width))
            painter.drawLines([QLineF(xy[a], xy[b]) for a, b in solid])
        for a, b in dashed:
            c = QColor(colour)
            c.setAlphaF(0.35 + 0.5 * min(conf[a], conf[b]))
            pen = QPen(c, width)
            pen.setStyle(_DASH)
            painter.setPen(pen)
            painter.drawLine(xy[a], xy[b])
        visibility = pose.visibility.tolist()
        for j, labelled in enumerate(lab):
            if labelled and suggested[j]:
                self._paint_suggested(painter, colour, xy[j], selected, scale)
            elif labelled:
                self._paint_joint(painter, colour, xy[j], conf[j], visibility[j] == _OCCLUDED,
                                  provenance[j] == _CORRECTED, auto[j], selected, scale)
        if not pose.keyframe and not pose.reviewed:  # review.doubtful_joints, from the lists at hand
            for j, labelled in enumerate(lab):  # drawn faint by their low confidence: ringed to stand out
                if labelled and auto[j] and conf[j] < DOUBTFUL_BELOW:
                    self._paint_doubt(painter, xy[j], selected, scale)

    def _paint_joint(self, painter, colour, centre, confidence, occluded, corrected, auto, selected,
                     scale) -> None:
        r = (3.5 if auto else 5.0) * (1.2 if selected else 1.0) * self.marker_scale / scale
        c = QColor(colour)
        if auto:
            c.setAlphaF(0.3 + 0.7 * confidence)
            pen = QPen(c, 1.5 / scale)
            pen.setStyle(_DOT)
        else:
            pen = QPen(_CORRECTED_OUTLINE if corrected else _OUTLINE, 1.5 / scale)
        painter.setPen(pen)
        painter.setBrush(_NO_BRUSH if occluded else QBrush(c))
        painter.drawEllipse(centre, r, r)
        if occluded:  # hollow, with a coloured ring so it stays visible on any background
            painter.setPen(QPen(c, 2.0 / scale))
            painter.drawEllipse(centre, r * 0.6, r * 0.6)

    def _paint_doubt(self, painter, centre, selected, scale) -> None:
        """A filled joint the fill doubts (review.doubtful_joints) on a pose not yet reviewed: an
        amber ring on a dark halo, wider than the joint, whatever its faintness."""
        r = 7.0 * (1.2 if selected else 1.0) * self.marker_scale / scale
        painter.setBrush(_NO_BRUSH)
        painter.setPen(QPen(_HALO, 3.5 / scale))
        painter.drawEllipse(centre, r, r)
        painter.setPen(QPen(_DOUBT, 1.8 / scale))
        painter.drawEllipse(centre, r, r)

    def _paint_suggested(self, painter, colour, centre, selected, scale) -> None:
        """A suggested joint: a hollow dashed ring in the person's colour round a small dot, so it
        reads as a proposal, unlike a placed (filled) or auto-filled (small dotted) joint."""
        r = 5.5 * (1.2 if selected else 1.0) * self.marker_scale / scale
        c = QColor(colour)
        painter.setBrush(_NO_BRUSH)
        painter.setPen(QPen(_HALO, 3.0 / scale))
        painter.drawEllipse(centre, r, r)
        pen = QPen(c, 2.0 / scale)
        pen.setStyle(_DASH)
        painter.setPen(pen)
        painter.drawEllipse(centre, r, r)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QBrush(c))
        painter.drawEllipse(centre, r * 0.25, r * 0.25)

    def _paint_label(self, painter, xy, text, scale) -> None:
        _text_at(painter, xy, scale, 9.5)
        rect = painter.fontMetrics().boundingRect(text).adjusted(-4, -2, 4, 2)
        rect.moveTo(10, -rect.height() - 6)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(0, 0, 0, 190))
        painter.drawRoundedRect(rect, 3, 3)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(rect, Qt.AlignCenter, text)
        painter.restore()


def _text_at(painter, xy, scale, points: float) -> None:
    """Save the painter and set it up to write text of `points` size at image point `xy`, in
    screen pixels whatever the zoom (`scale`: screen pixels per image pixel). Restore it after."""
    painter.save()
    painter.translate(float(xy[0]), float(xy[1]))
    painter.scale(1 / scale, 1 / scale)
    font = QFont()
    font.setPointSizeF(points)
    painter.setFont(font)


class FrameView(QGraphicsView):
    """QGraphicsView over the frame and its poses. Signals carry image coordinates."""

    placeRequested = Signal(float, float, int)  # x, y, visibility
    jointMoved = Signal(int, int, float, float)  # track, joint, x, y
    poseMoved = Signal(int, float, float)  # track, dx, dy
    poseTurned = Signal(int, float, float, float, float)  # track, centre x, y, angle (radians), scale
    jointFlagRequested = Signal(int, int)  # track, joint (toggle occluded)
    trackClicked = Signal(int)
    hoverChanged = Signal(object)  # (track, joint) or None
    viewMoved = Signal()  # the user zoomed or panned

    def __init__(self, skeleton, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.frame_item = FrameItem()
        self.layer = PoseLayer(skeleton)
        self.scene().addItem(self.frame_item)
        self.scene().addItem(self.layer)
        self.frame_item.setVisible(False)  # until there is a frame to show
        self.setRenderHints(QPainter.Antialiasing | QPainter.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.FullViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setBackgroundBrush(QColor("#15171a"))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.overlay_text = ""
        # A joint waits to be placed (the window says so): a click on an old joint places it.
        self.placing = False
        self._drag = None  # (kind, track, joint, start scene point)
        self._pan = None
        self._fitted = False
        self._smooth_timer = QTimer(self)  # smooth scaling once the user stops stepping
        self._smooth_timer.setSingleShot(True)
        self._smooth_timer.setInterval(120)
        self._smooth_timer.timeout.connect(self._smooth_again)
        self._placed_timer = QTimer(self)
        self._placed_timer.setSingleShot(True)
        self._placed_timer.setInterval(PLACED_LABEL_MS)
        self._placed_timer.timeout.connect(lambda: self.show_placed(None))

    # --- content --------------------------------------------------------------------------
    def set_frame(self, image: QImage | None, size: tuple[int, int]) -> None:
        self.frame_item.setVisible(True)
        self.frame_item.fast = True
        self._smooth_timer.start()
        self.frame_item.set_image(image, size)
        if self.layer.size != size:
            self.layer.prepareGeometryChange()
            self.layer.size = size
            # A frame's worth of room on each side: any point of the frame, its corners too, can
            # be brought to the middle of the view (following a person at the frame's edge).
            self.setSceneRect(QRectF(-size[0], -size[1], 3 * size[0], 3 * size[1]))
            self._fitted = False
        if not self._fitted and self.viewport().width() > 50:
            self.fit()

    def _smooth_again(self) -> None:
        self.frame_item.fast = False
        self.frame_item.update()

    def clear(self) -> None:
        """Nothing open: no frame, no poses."""
        self._drag = None
        self.placing = False
        self.layer.placed = None
        self.frame_item.setVisible(False)
        self.layer.set_poses({})
        self.layer.hover = None

    def set_poses(self, poses: dict[int, Pose]) -> None:
        if self._drag is None:  # a redraw mid-drag would drop the preview
            self.layer.set_poses(poses)
            self._hover_again()

    def _hover_again(self) -> None:
        """The joint under the pointer among the poses drawn now: after a frame change by key the
        hovered joint has moved away from the pointer (a trial's name label stayed beside it)."""
        pos = self._pointer()
        self._set_hover(self.joint_at(pos) if pos is not None and self.viewport().rect().contains(pos) else None)

    def _set_hover(self, hit: tuple[int, int] | None) -> None:
        """The hovered joint (track, joint) or None, redrawn and told when it changes."""
        if hit != self.layer.hover:
            self.layer.hover = hit
            self.layer.update()
            self.hoverChanged.emit(hit)

    def _pointer(self) -> QPoint | None:
        """The pointer in viewport coordinates while it is over the view, else None."""
        if not self.viewport().underMouse():
            return None
        return self.viewport().mapFromGlobal(QCursor.pos())

    def set_selected(self, track_id: int | None, joint: int | None = None) -> None:
        """The selected person, and their selected joint (the next to place: its name is kept
        when names crowd)."""
        self.layer.selected = track_id
        self.layer.next_joint = joint
        self.layer.update()

    def set_marker_scale(self, scale: float) -> None:
        self.layer.marker_scale = scale
        self.layer.update()

    def set_show_names(self, on: bool) -> None:
        self.layer.show_names = on
        self.layer.update()

    def set_onion(self, poses: list[tuple[int, int, Pose]], frame: int | None = None) -> None:
        """(track, keyframe, pose) of the keyframes to draw faint beneath `frame`'s poses."""
        self.layer.onion = list(poses)
        self.layer.onion_frame = frame
        self.layer.update()

    def show_placed(self, placed: tuple[int, int] | None) -> None:
        """Name the joint a click just placed beside it, for a moment."""
        self.layer.placed = placed
        self.layer.update()
        if placed is not None:
            self._placed_timer.start()

    def set_overlay(self, text: str) -> None:
        self.overlay_text = text
        self.viewport().update()

    def fit(self) -> None:
        self.fitInView(self.frame_item.boundingRect(), Qt.KeepAspectRatio)
        self._fitted = True

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by `factor` within MIN_ZOOM..MAX_ZOOM of the fit, keeping the image point under
        `anchor` (a viewport position; default the middle of the view) where it is."""
        if anchor is None:
            anchor = QPointF(self.viewport().width() / 2, self.viewport().height() / 2)
        fit, now = self._fit_scale(), self.transform().m11()
        target = min(max(now * factor, MIN_ZOOM * fit), MAX_ZOOM * fit)
        if abs(target - now) < 1e-9:
            return
        fixed = self.mapToScene(anchor.toPoint())
        anchor_mode = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.NoAnchor)
        self.scale(target / now, target / now)
        self.setTransformationAnchor(anchor_mode)
        if target <= fit * (1 + 1e-6):
            # the whole picture fits: centred, not wherever the pointer pulled it (a trial's image
            # stayed off-centre after zooming out with the wheel until F)
            self.centerOn(self.frame_item.boundingRect().center())
        else:
            self._keep_under(fixed, anchor)
        self.viewMoved.emit()

    def _keep_under(self, scene_point: QPointF, view_point: QPointF) -> None:
        """Scroll so `scene_point` is at `view_point` of the viewport."""
        moved = self.mapFromScene(scene_point) - view_point.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())

    def zoom_level(self) -> float:
        """The zoom relative to the whole frame fitting the view."""
        return self.transform().m11() / self._fit_scale()

    def look_at(self, box: tuple[float, float, float, float], fit: bool = False) -> None:
        """Centre the view on an image box; with `fit`, zoom so it fills the view (with a margin)."""
        x0, y0, x1, y1 = box
        if fit:
            w = max(x1 - x0, 8.0) * (1 + 2 * PERSON_MARGIN)
            h = max(y1 - y0, 8.0) * (1 + 2 * PERSON_MARGIN)
            vp = self.viewport()
            self.zoom(min(vp.width() / w, vp.height() / h) / self.transform().m11())
            self._fitted = True
        self.centerOn((x0 + x1) / 2, (y0 + y1) / 2)
        self.viewMoved.emit()

    def shows(self, box: tuple[float, float, float, float]) -> bool:
        """The image box (x0, y0, x1, y1) lies wholly inside what the view shows now."""
        x0, y0, x1, y1 = box
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        return seen.left() <= x0 and seen.top() <= y0 and x1 <= seen.right() and y1 <= seen.bottom()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if not self._fitted or self.transform().m11() < self._fit_scale():
            self.fit()

    def _fit_scale(self) -> float:
        w, h = self.frame_item.size
        return min(self.viewport().width() / w, self.viewport().height() / h)

    # --- hit testing ----------------------------------------------------------------------
    def joint_at(self, view_pos) -> tuple[int, int] | None:
        """The labelled joint nearest to a viewport position, within HIT_RADIUS_PX (times the
        marker size); the selected person wins ties."""
        p = self.mapToScene(view_pos)
        radius = HIT_RADIUS_PX * max(self.layer.marker_scale, 1.0) / max(self.transform().m11(), 1e-6)
        best, best_d = None, radius
        for tid, pose in self.layer.poses.items():
            lab = pose.labelled()
            if not lab.any():
                continue
            d = np.hypot(pose.xy[:, 0] - p.x(), pose.xy[:, 1] - p.y())
            d[~lab] = np.inf
            j = int(np.argmin(d))
            dj = d[j] * (0.8 if tid == self.layer.selected else 1.0)
            if dj <= best_d:
                best, best_d = (tid, j), dj
        return best

    # --- mouse ----------------------------------------------------------------------------
    def wheelEvent(self, event):
        """Zoom about the pointer, at every zoom level (a touchpad's pixel steps too)."""
        steps = event.angleDelta().y() / 120 or event.pixelDelta().y() / 50
        if steps:
            self.zoom(WHEEL_NOTCH_ZOOM ** steps, event.position())
        event.accept()

    def mousePressEvent(self, event):
        pos = event.position().toPoint()
        hit = self.joint_at(pos)
        mods = event.modifiers()
        turn = bool(mods & Qt.ControlModifier and mods & Qt.ShiftModifier) and hit is not None
        if event.button() == Qt.MiddleButton or (
                event.button() == Qt.LeftButton and mods & Qt.ControlModifier and not turn):
            self._pan = pos
            self.viewport().setCursor(Qt.ClosedHandCursor)
            return
        scene = self.mapToScene(pos)
        if event.button() == Qt.LeftButton:
            if hit is not None:
                origin = self.layer.poses[hit[0]].copy()
                kind = "turn" if turn else "pose" if mods & (Qt.AltModifier | Qt.ShiftModifier) else "joint"
                # A plain press while a joint waits to be placed places it on release, unless the
                # mouse moves DRAG_START_PX first: then it drags the old joint.
                self._drag = {"kind": kind, "track": hit[0], "joint": hit[1], "start": scene, "press": pos,
                              "origin": origin, "moved": False, "place": self.placing and kind == "joint",
                              "centre": origin.xy[origin.labelled()].mean(axis=0)}
                if not self._drag["place"]:
                    self.trackClicked.emit(hit[0])
            else:
                self.placeRequested.emit(scene.x(), scene.y(), int(Visibility.VISIBLE))
        elif event.button() == Qt.RightButton:
            if hit is not None and not self.placing:
                self.jointFlagRequested.emit(*hit)
            else:
                self.placeRequested.emit(scene.x(), scene.y(), int(Visibility.OCCLUDED))

    def mouseMoveEvent(self, event):
        pos = event.position().toPoint()
        if self._pan is not None:
            delta = pos - self._pan
            self._pan = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        scene = self.mapToScene(pos)
        if self._drag is not None:
            d = self._drag
            if d["place"]:
                if (pos - d["press"]).manhattanLength() < DRAG_START_PX:
                    return  # still a click
                d["place"] = False  # a drag after all: it moves the old joint
                self.trackClicked.emit(d["track"])
            d["moved"] = True
            pose = d["origin"].copy()
            if d["kind"] == "joint":
                pose.xy[d["joint"]] = (scene.x(), scene.y())
            elif d["kind"] == "turn":
                pose = edits.turn_pose(d["origin"], d["centre"], *self._turn(d, scene))
            else:
                pose.xy[pose.labelled()] += (scene.x() - d["start"].x(), scene.y() - d["start"].y())
            self.layer.poses[d["track"]] = pose
            self.layer.update()
            return
        self._set_hover(self.joint_at(pos))

    def mouseReleaseEvent(self, event):
        if self._pan is not None:
            self._pan = None
            self.viewport().unsetCursor()
            self.viewMoved.emit()
            return
        if self._drag is None:
            return
        d, self._drag = self._drag, None
        if d["place"]:
            self.placeRequested.emit(d["start"].x(), d["start"].y(), int(Visibility.VISIBLE))
            return
        if not d["moved"]:
            return
        scene = self.mapToScene(event.position().toPoint())
        if d["kind"] == "joint":
            self.jointMoved.emit(d["track"], d["joint"], scene.x(), scene.y())
        elif d["kind"] == "turn":
            self.poseTurned.emit(d["track"], *map(float, d["centre"]), *self._turn(d, scene))
        else:
            self.poseMoved.emit(d["track"], scene.x() - d["start"].x(), scene.y() - d["start"].y())

    @staticmethod
    def _turn(drag: dict, scene) -> tuple[float, float]:
        """(angle, scale) that take the grabbed joint, about the pose's centre, to the cursor."""
        centre = drag["centre"]
        before = drag["origin"].xy[drag["joint"]] - centre
        after = np.array([scene.x(), scene.y()]) - centre
        if np.hypot(*before) < 1.0:  # the grabbed joint is the centre: nothing to turn by
            return 0.0, 1.0
        angle = float(np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0]))
        angle = (angle + np.pi) % (2 * np.pi) - np.pi  # the short way round: a trial read "-212°"
        scale = float(np.clip(np.hypot(*after) / np.hypot(*before), 0.2, 5.0))
        return angle, scale

    def leaveEvent(self, event):
        self._set_hover(None)
        super().leaveEvent(event)

    def drawForeground(self, painter: QPainter, rect) -> None:
        if not self.overlay_text:
            return
        painter.save()
        painter.resetTransform()
        font = QFont()
        font.setPointSizeF(10)
        painter.setFont(font)
        fm = painter.fontMetrics()
        r = fm.boundingRect(self.overlay_text).adjusted(-8, -4, 8, 4)
        r.moveTo(10, 10)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(r, 4, 4)
        painter.setPen(QColor("#f5f5f5"))
        painter.drawText(r, Qt.AlignCenter, self.overlay_text)
        painter.restore()
