"""A suggested pose for a person on a new keyframe, from two sources chosen per joint.

1. carried: the person's pose on the nearest labelled keyframe moved to this frame by the fill
   machinery's DIS flow, one-sided (the annotator labels forward; the far keyframe does not exist
   yet); its chains are kept and extended frame by frame (carry.py).
2. model: BlazePose on a crop turned and sized from the carried pose (or from a box the user
   dragged, when the person has no keyframe yet), its landmarks mapped to the skeleton and
   corrected by the person's offsets learned on their earlier keyframes.

`choose`: when the model's pose agrees with the carried one as a whole (median joint distance
within AGREEMENT crop sides: it found the same person, not a neighbour), each confident model
joint is averaged with the carried one where the two agree and replaces it where they do not
(flow drifts off fast limbs; the model looks at this frame). When the poses disagree as a whole,
the carried pose stands. The constants are chosen by leave-one-clip-out on the two dev clips
(resources/models/MODEL_CARD.md, `bench-suggest`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..annotation import Pose, Provenance, Video, on_picture
from ..skeleton import Skeleton
from .blazepose import ROI_SCALE, BlazePose, Landmarks, Roi, runtime_missing
from .carry import Carrier, pose_digest, source_keyframe
from .mapping import PersonOffsets, roi_from_box, roi_from_pose, skeleton_from_landmarks
from .others import shown_to_model

MIN_PERSON_PX = 40  # a person smaller than this (crop's circle diameter) gets no model suggestion
DETECT_MIN_FRACTION = 1 / 6  # of the frame's height: people smaller than this are not found (detect_tiled)
MIN_CONFIDENCE = 0.5  # landmarks below this are left unlabelled; MediaPipe's own; leave-one-clip-out chose 0.3 (JHMDB) and 0.9 (Bonn)
MODEL_PASSES = 2  # a second pass on the crop the first points to: k=7, vs 1 pass, Bonn 89.6/69.1 vs 88.4/68.2, JHMDB 98.8/84.5 vs 97.6/83.3
# The model sees only the carried pose's joint extent grown by this much of its longer side on each
# side (the rest of the crop grey), so a neighbour in the crop does not pull it away. Leave-one-clip-
# out over 0/0.1/0.15/0.25/0.35: Bonn chose 0.1 (-> JHMDB 98.8/85.7 vs 98.8/84.5 unmasked), JHMDB
# chose 0.25 (-> Bonn 90.5/72.3 vs 89.6/69.0); 0.25 also helps the model alone on both clips.
MASK_MARGIN = 0.25
AGREEMENT = 0.1  # crop sides: poses (median) and joints this close agree; both leave-one-clip-out directions chose it


@dataclass
class Suggestion:
    """What a suggestion found for one person on one frame. `pose` is None when there is none;
    `message` then says why (and otherwise notes what was missing, e.g. the model)."""

    pose: Pose | None
    message: str = ""
    carried: np.ndarray | None = None  # (J, 2); NaN where the keyframe had no joint
    model: np.ndarray | None = None  # (J, 2) offset-corrected model joints
    model_confidence: np.ndarray | None = None  # (J,)
    model_raw: np.ndarray | None = None  # (J, 2) the model's joints before the person's offsets
    landmarks: Landmarks | None = None
    roi: Roi | None = None
    sources: dict = field(default_factory=dict)  # source name -> (J, 2) with NaN where it has none


class Suggester:
    """Suggestions for one video's people. Keeps the carried poses' flow chains (carry.py), the
    model's outputs on keyframes and each person's offsets (remade only when a keyframe changed)."""

    def __init__(self, skeleton: Skeleton, use_model: bool = True, num_threads: int = 1,
                 model: BlazePose | None = None):
        """`model`: a BlazePose loaded already (loading one holds Python's lock for ~2 x 50 ms: a
        window shares one between its videos)."""
        self.skeleton = skeleton
        self.missing = runtime_missing() if use_model else "the pose model is switched off"
        self.model = (model or BlazePose(num_threads)) if self.missing is None else None
        self._carrier: Carrier | None = None
        self._offsets: dict[int, tuple[tuple, PersonOffsets]] = {}  # track -> (what they came from, offsets)
        # (frame, track) -> the model's (xy, confidence, crop) there, and the label digest its crop
        # came from (None: from a suggestion's crop, which a later label does not change)
        self._model_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, Roi, tuple | None]] = {}

    # -- the two sources ------------------------------------------------------------------------
    def carrier(self, frames) -> Carrier:
        """The carried poses' chains for these frames (kept across requests; carry.py)."""
        if self._carrier is None or self._carrier.frames is not frames:
            self._carrier = Carrier(frames)
        return self._carrier

    def carry(self, frames, video: Video, frame: int, track_id: int, key: int) -> np.ndarray:
        """The keyframe `key`'s pose of the person flowed to `frame`: (J, 2), NaN where the
        keyframe has no joint."""
        return self.carrier(frames).carry(video, frame, track_id, key)

    def forget_chains(self) -> None:
        """Drop the kept flow chains (they are remade on the next request: a benchmark's cold start)."""
        self._carrier = None

    def extend_ahead(self, video: Video, frames, track_id: int, start: int, upto: int, stop=None):
        """Flow the person's chain from their last keyframe at or before `start` on to `upto`
        before anyone asks, so that a suggestion there needs only the model; stoppable between
        frame pairs. (keyframe, its pose digest, last frame reached), or None (Carrier.extend)."""
        return self.carrier(frames).extend(video, track_id, start, upto, stop)

    def suggest_frame(self, video: Video, frames, frame: int, track_ids=None) -> dict[int, Suggestion]:
        """Suggestions for several people on one frame (default: every track). Each person's pose
        is carried by its own flow chain on a region around them: one chain on the region around
        everyone took 1.39x as long on the Bonn clip (4 people, k=7; the region is then the whole
        frame)."""
        ids = sorted(video.tracks) if track_ids is None else list(track_ids)
        carried = {}
        for t in ids:
            key = source_keyframe(video, t, frame)
            if key is not None and 0 <= frame < video.num_frames:
                carried[t] = self.carry(frames, video, frame, t, key)
        out = {}
        for t in ids:
            others = self.others_on(video, frames, frame, t, carried)
            out[t] = self.suggest(video, frames, frame, t, carried=carried.get(t), others=others)
        return out

    def others_on(self, video: Video, frames, frame: int, track_id: int, known: dict | None = None) -> list[np.ndarray]:
        """Where the other people are on `frame` (others.py): their poses in `known` (track -> (J, 2)
        carried here), else their joints on this frame, else their pose carried from their own
        keyframe when a kept chain has reached this frame already (no flow is run for them: a
        suggestion for one person stays as quick as before); anyone else is left out."""
        out = []
        for t in sorted(video.tracks):
            if t == track_id:
                continue
            if known is not None and t in known:
                out.append(known[t])
                continue
            pose = video.pose(frame, t)
            if pose is not None and pose.labelled().any():
                out.append(pose.labelled_xy())
                continue
            key = source_keyframe(video, t, frame)
            carried = self.carrier(frames).carried_if_ready(video, frame, t, key) if key is not None else None
            if carried is not None:
                out.append(carried)
        return out

    def run_model(self, rgb: np.ndarray, roi: Roi, around: np.ndarray | None = None, others=()
                  ) -> tuple[np.ndarray, np.ndarray, Landmarks]:
        """The model's joints (J, 2) and confidence (J,) in `roi`; with `around` (N, 2) points of
        the person, only their extent grown by MASK_MARGIN is shown to it; `others` ((J, 2) each):
        the other people's extents are greyed out where they do not overlap this person's
        (others.shown_to_model)."""
        own = around if around is not None and len(around) else None
        mask = person_mask(rgb.shape[:2], own) if own is not None else None
        mask = shown_to_model(rgb.shape[:2], own, list(others), mask)
        lm = self.model.landmarks(rgb, roi, mask=mask, passes=MODEL_PASSES)
        xy, conf = skeleton_from_landmarks(lm, self.skeleton)
        return xy, conf * (lm.presence if np.isfinite(lm.presence) else 1.0), lm

    def learn(self, video: Video, frames, track_id: int, before: int, at_hand: bool = False, stop=None
              ) -> PersonOffsets | None:
        """The person's offsets from their keyframes before `before` as they are labelled now: a
        corrected keyframe is learned again (the offsets are remade when a keyframe's label
        changed; the model's output there is kept unless its crop came from the old label).
        `at_hand`: from the keyframes the model has looked at already only, running it on none (a
        first guess: the model on every earlier keyframe took 1.4-3.1 s on the demo's late frames).
        `stop()`, asked between keyframes, gives up (None; what the model saw so far is kept)."""
        keys = [k for k in video.keyframes(track_id) if k < before]
        came_from = tuple((k, pose_digest(video.pose(k, track_id))) for k in keys)
        known = self._offsets.get(track_id)
        if known is not None and known[0] == came_from:
            return known[1]
        offsets = PersonOffsets(self.skeleton.num_joints)
        complete = True
        for key in keys:
            if stop is not None and stop():
                return None
            label = video.pose(key, track_id)
            cached = self._model_cache.get((key, track_id))
            if cached is None or cached[3] not in (None, pose_digest(label)):
                if at_hand:
                    complete = False
                    continue
                roi = roi_from_pose(label, self.skeleton)
                if roi is None:
                    continue
                others = [p.labelled_xy()
                          for t, p in video.poses.get(key, {}).items() if t != track_id and p.labelled().any()]
                xy, conf, _ = self.run_model(frames.frame(key), roi, label.xy[label.labelled()], others)
                cached = self._model_cache[(key, track_id)] = (xy, conf, roi, pose_digest(label))
            offsets.learn(label, cached[0], cached[1], cached[2], MIN_CONFIDENCE)
        if complete:
            self._offsets[track_id] = (came_from, offsets)
        return offsets

    def chain_ready(self, video: Video, frames, frame: int, track_id: int) -> bool:
        """Whether a suggestion for the person on `frame` needs no flow (their kept chain has reached it)."""
        key = source_keyframe(video, track_id, frame)
        return key is None or self.carrier(frames).carried_if_ready(video, frame, track_id, key) is not None

    def quick(self, video: Video, frames, frame: int, track_id: int, image: np.ndarray | None = None) -> Suggestion:
        """A first suggestion without the flow chain, shown while the chain is computed: the model
        alone (confident joints; the person's offsets from the keyframes it has looked at already)
        on the crop, and within the mask, of the person's pose as far toward `frame` as their kept
        chain has reached (their keyframe's pose when it has not moved on). The model's output here
        is not kept for learning offsets (the full suggestion's crop is the one to learn from).
        `image`: the frame as already decoded (the window shows it), so nothing is decoded here."""
        key = source_keyframe(video, track_id, frame)
        if key is None or self.model is None or not 0 <= frame < video.num_frames:
            return Suggestion(None, self.missing or f"no keyframe of person {track_id} to start from")
        near = self.carrier(frames).furthest(video, frame, track_id, key)
        return self.suggest(video, frames, frame, track_id, carried=near, first_guess=True, image=image)

    # -- the suggestion -------------------------------------------------------------------------
    def suggest(self, video: Video, frames, frame: int, track_id: int, box=None, carried=None, others=None,
                first_guess: bool = False, image: np.ndarray | None = None) -> Suggestion:
        """A suggestion for `track_id` on `frame`, from the nearest labelled keyframe of that track
        (before it, else after it) and, when given, a box (x, y, w, h) the user dragged.
        `carried`: that keyframe's pose already flowed here (else carried now); `others`: where the
        other people are on the frame (default: others_on); `first_guess`: as fast as it can be
        (quick): the model's joints alone (`carried` gives only the crop and mask), offsets from
        what the model has seen (learn's at_hand), and the model's output here not kept for
        learning (its crop is a makeshift one); the one source is then `quick`, and there is no
        suggestion without the model. `image`: the frame's RGB when it is decoded already (else
        read from `frames`)."""
        if not 0 <= frame < video.num_frames:
            return Suggestion(None, f"frame {frame} is outside the video (0..{video.num_frames - 1})")
        key = source_keyframe(video, track_id, frame)
        n = self.skeleton.num_joints
        notes = []
        if key is not None and carried is None:
            carried = self.carry(frames, video, frame, track_id, key)
        roi = None
        if box is not None:
            roi = roi_from_box(box)
        elif carried is not None:
            ok = np.isfinite(carried[:, 0])
            tmp = Pose.manual(np.nan_to_num(carried), ok.astype(np.uint8) * 2)
            roi = roi_from_pose(tmp, self.skeleton)
        elif (here := video.pose(frame, track_id)) is not None and here.labelled().sum() >= 3:
            roi = roi_from_pose(here, self.skeleton)  # nothing to carry: the joints placed here give the crop
        model_xy = model_conf = lm = raw_xy = None
        if self.model is None:
            notes.append(self.missing)
        elif roi is None:
            notes.append(f"no pose of person {track_id} to start from for frame {frame} (no keyframe, or one marked "
                         "not in view next to it): place 3 of their joints here first, or drop a template (T)")
        elif roi.side / ROI_SCALE < MIN_PERSON_PX:
            notes.append(f"person {track_id} on frame {frame} is under {MIN_PERSON_PX} px tall: no model suggestion")
        elif not _overlaps(roi, video.width or frames.width, video.height or frames.height):
            notes.append(f"the crop for person {track_id} on frame {frame} lies outside the frame")
        else:
            rgb = image if image is not None else frames.frame(frame)
            if _is_empty(rgb):
                notes.append(f"frame {frame} is empty: no model suggestion")
            else:
                around = carried[np.isfinite(carried[:, 0])] if (box is None and carried is not None) else None
                if others is None:
                    others = self.others_on(video, frames, frame, track_id)
                raw_xy, model_conf, lm = self.run_model(rgb, roi, around, others)
                if not first_guess:
                    self._model_cache[(frame, track_id)] = (raw_xy, model_conf, roi, None)
                offsets = self.learn(video, frames, track_id, frame, at_hand=first_guess) if key is not None else None
                model_xy = offsets.apply(raw_xy, roi) if offsets is not None else raw_xy
        if first_guess:
            carried = None  # it placed the crop; the first guess is the model's alone
            if model_xy is None:
                return Suggestion(None, "; ".join(notes))
        xy, chosen = choose(carried, model_xy, model_conf, roi.side if roi is not None else 1.0)
        sources = {}
        if first_guess:
            sources["quick"] = np.where(chosen[:, None], xy, np.nan)
        else:
            if carried is not None:
                sources["carried"] = carried
            if model_xy is not None:
                sources["blazepose"] = np.where((model_conf >= MIN_CONFIDENCE)[:, None], model_xy, np.nan)
        chosen &= on_picture(xy, video.width, video.height)  # a trial accepted six joints past its edge
        if not chosen.any():
            why = "; ".join(notes) or f"nothing to suggest for person {track_id} on frame {frame}"
            return Suggestion(None, why, carried, model_xy, model_conf, raw_xy, lm, roi, sources)
        pose = Pose(
            xy=np.where(chosen[:, None], xy, 0.0),
            visibility=np.where(chosen, 2, 0),
            provenance=np.where(chosen, Provenance.SUGGESTED, Provenance.NONE),
            confidence=np.zeros(n, np.float32),
            method="suggestion",
        )
        return Suggestion(pose, "; ".join(notes), carried, model_xy, model_conf, raw_xy, lm, roi,
                          sources)


def person_mask(shape, pts: np.ndarray) -> np.ndarray:
    """(H, W) bool: the extent of a person's points grown by MASK_MARGIN of its longer side."""
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    grow = MASK_MARGIN * max(float((hi - lo).max()), 1.0)
    x0, y0 = np.maximum(np.floor(lo - grow), 0).astype(int)
    x1, y1 = np.ceil(hi + grow).astype(int)
    mask = np.zeros(shape, bool)
    mask[y0:max(y1, y0), x0:max(x1, x0)] = True
    return mask


def place_suggestion(existing: Pose | None, suggestion: Pose) -> Pose:
    """`existing` with the suggestion's joints added where it has none: joints already labelled
    (placed, corrected or filled) are never overwritten. The result is a keyframe, except over an
    auto-filled pose: that stays a filled pose (a trial's E on one added a nose and made its
    unreviewed filled joints an anchor of the next fill).

    Not over filled joints the fill doubts either: on the dev clips (default fill untuned, every
    filled pose with a joint under 0.5 confidence) a suggestion there put more joints off by
    alpha = 0.5 than it fixed (Bonn k = 7 / 15: 0 / 5 fixed, 33 / 117 broken; JHMDB 0 / 0 fixed,
    4 / 5 broken), even for joints under 0.1 only (Bonn k = 15: 0 fixed, 23 broken). For a fill
    that lost the person, Del then E gives a whole fresh suggestion."""
    out = existing.copy() if existing is not None else Pose.empty(suggestion.num_joints)
    free = ~out.labelled() & suggestion.labelled()
    out.xy[free] = suggestion.xy[free]
    out.visibility[free] = suggestion.visibility[free]
    out.provenance[free] = Provenance.SUGGESTED
    out.confidence[free] = 0.0
    out.keyframe = existing is None or existing.keyframe or not existing.auto_joints().any()
    return out


def accept(pose: Pose, joints=None) -> Pose:
    """The pose with its suggested joints (all, or those in `joints`) accepted as the annotator's."""
    out = pose.copy()
    pick = out.provenance == Provenance.SUGGESTED
    if joints is not None:
        only = np.zeros(out.num_joints, bool)
        only[list(joints)] = True
        pick &= only
    out.provenance[pick] = Provenance.MANUAL
    out.confidence[pick] = 1.0
    if out.method in ("suggestion", "template") and not (out.provenance == Provenance.SUGGESTED).any():
        out.method = None
    return out


def detect_people(suggester: "Suggester", frames, frame: int) -> tuple[list[Pose], str]:
    """Suggested poses of the people BlazePose's detector finds in a frame nobody is labelled in
    (best first), and a message when there are none or the model is missing."""
    if suggester.model is None:
        return [], suggester.missing
    rgb = frames.frame(frame)
    if _is_empty(rgb):
        return [], f"frame {frame} is empty: nobody to detect"
    poses, small = [], 0
    for _, roi in detect_tiled(suggester.model, rgb):
        if roi.side / ROI_SCALE < MIN_PERSON_PX:
            small += 1
            continue
        xy, conf, _ = suggester.run_model(rgb, roi)
        ok = conf >= MIN_CONFIDENCE
        if ok.sum() >= 3:
            poses.append(Pose(xy=np.where(ok[:, None], xy, 0.0), visibility=np.where(ok, 2, 0),
                              provenance=np.where(ok, Provenance.SUGGESTED, Provenance.NONE),
                              confidence=np.zeros(len(xy), np.float32), method="suggestion"))
    if poses:
        return poses, f"{small} found under {MIN_PERSON_PX} px tall left out" if small else ""
    too_small = f"{small} found under {MIN_PERSON_PX} px tall, too small for the pose model; " if small else ""
    return [], (f"nobody found on frame {frame} ({too_small}people under about "
                f"1/{round(1 / DETECT_MIN_FRACTION)} of the frame's height are not found): drop a pose "
                "template where a person is (T, then click) and drag its joints")


def new_person_among(detected: list[Pose], others: list[Pose], own: Pose | None = None) -> Pose | None:
    """Which of the people the detector found (best first) is a person just added on a frame where
    `others` are labelled: not one whose centre lies within another person's joint extent; with
    some of the person's own joints placed (`own`), the one nearest them, else the best found."""
    def centre(p: Pose) -> np.ndarray:
        return p.xy[p.labelled()].mean(axis=0)

    def inside(pt, box) -> bool:
        return box is not None and box[0] <= pt[0] <= box[0] + box[2] and box[1] <= pt[1] <= box[1] + box[3]

    boxes = [o.joint_extent() for o in others]
    free = [p for p in detected if p.labelled().any() and not any(inside(centre(p), b) for b in boxes)]
    if not free:
        return None
    if own is not None and own.labelled().any():
        return min(free, key=lambda p: float(np.linalg.norm(centre(p) - centre(own))))
    return free[0]


def detect_tiled(model: BlazePose, rgb: np.ndarray) -> list[tuple[float, Roi]]:
    """People in a frame, best first: the detector on the whole frame and on square tiles at two
    scales, half a tile apart: as tall as the frame (wide frames), and half the frame's shorter
    side. The detector letterboxes its input into 224 x 224 and finds a person from about a third
    of that: on the demo video's 1768 x 994 frames the whole frame found nobody, frame-tall tiles
    the walker (0.97-0.99); on opencv_vtest.avi (768 x 576, pedestrians 80-90 px tall) frame-tall
    tiles found nobody, 384 px tiles 2 people, 288 px (half) tiles 3 at 0.95-0.98, 192 px 3 at
    2.3x the time. So people down to about a sixth of the frame's height are found (DETECT_MIN_
    FRACTION), at 2 + 15 detector runs on a 768 x 576 frame. A person found twice (centres within
    half a crop side) is kept once, best score."""
    h, w = rgb.shape[:2]
    found = list(model.detect(rgb))
    for side in (min(h, w), min(h, w) // 2):
        if side == min(h, w) and max(h, w) <= 1.2 * side:
            continue  # a square-ish frame: its frame-tall tile is the frame itself
        for y in _tile_starts(h, side):
            for x in _tile_starts(w, side):
                tile = np.ascontiguousarray(rgb[y:y + side, x:x + side])
                found += [(score, Roi(roi.cx + x, roi.cy + y, roi.side, roi.angle)) for score, roi in model.detect(tile)]
    kept: list[tuple[float, Roi]] = []
    for score, roi in sorted(found, key=lambda f: -f[0]):
        if all(np.hypot(roi.cx - k.cx, roi.cy - k.cy) > 0.5 * max(roi.side, k.side) for _, k in kept):
            kept.append((score, roi))
    return kept


def _tile_starts(length: int, side: int) -> list[int]:
    """Where tiles of `side` start along `length`, half a tile apart, the last one flush with the end."""
    return sorted({int(round(a)) for a in np.arange(0, max(length - side, 0), side / 2)} | {max(length - side, 0)})


def choose(carried, model_xy, model_conf, side: float, agreement: float = AGREEMENT,
           min_confidence: float = MIN_CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """The suggested joints from the two sources (see the module doc): (xy (J, 2), chosen (J,)).
    `carried`/`model_xy` (J, 2) or None (NaN: no joint); `side`: the crop's side in pixels."""
    if carried is None and model_xy is None:
        return np.zeros((0, 2)), np.zeros(0, bool)
    n = len(carried if carried is not None else model_xy)
    xy = np.zeros((n, 2))
    chosen = np.zeros(n, bool)
    if carried is not None:
        chosen = np.isfinite(carried[:, 0])
        xy[chosen] = carried[chosen]
    if model_xy is None:
        return xy, chosen
    confident = model_conf >= min_confidence
    if carried is None:
        xy[confident], chosen[confident] = model_xy[confident], True
        return xy, chosen
    dist = np.linalg.norm(model_xy - carried, axis=1) / side  # NaN where the carried pose has no joint
    both = np.isfinite(dist)
    if not both.any() or np.median(dist[both]) > agreement:
        return xy, chosen  # the model found someone else (or nothing to compare): the carried pose stands
    near = both & confident & (dist <= agreement)
    xy[near] = 0.5 * (carried[near] + model_xy[near])
    take = confident & ~near
    xy[take], chosen[take] = model_xy[take], True
    return xy, chosen


def _is_empty(rgb: np.ndarray) -> bool:
    """A blank frame (one colour). Every 8th pixel: the full frame's std took 38 ms at 1768 x 994."""
    return rgb.size == 0 or float(rgb[::8, ::8].std()) < 1.0


def _overlaps(roi: Roi, width: int, height: int) -> bool:
    """Whether the crop's centre lies in the frame (a crop mostly outside shows the model nothing)."""
    return 0 <= roi.cx < width and 0 <= roi.cy < height
