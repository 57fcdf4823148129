"""The carried source of a suggestion: a person's pose on their nearest labelled keyframe moved to
the frame by dense flow, one frame pair at a time (the fill machinery's DIS forward chain, on the
same region around the person and at the same working scale).

The annotator labels forward, so the chain from a keyframe is kept and extended: a suggestion on
the next frame costs one more frame pair, not the whole chain again, and a chain can be extended
ahead in the background while the user looks at a frame (`extend`, stoppable between frame
pairs). A chain is keyed by the keyframe's pose, so a corrected keyframe starts a new one. Only
the points and the last grey frame (its region at the working size, at most 960 x 960 bytes) are
kept, so CHAINS_KEPT chains stay under 30 MB.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..annotation import Pose, Video
from ..autofill.engine import Span
from ..autofill.flow import FlowMethod, flow_region, make_flow_function, sample_flow, working_gray

CHAINS_KEPT = 32  # chains kept (people x keyframes recently suggested from); each under 1 MB
MAX_SIDE = 960  # the fill's flow working size (longer side); at 480 px Bonn lost 0.3/0.6 points (k=7)


def source_keyframe(video: Video, track_id: int, frame: int) -> int | None:
    """The keyframe a person's suggestion on `frame` starts from: their nearest labelled keyframe
    before it (the annotator labels forward), else the first after it; None without one. A "not
    in view" mark (Pose.is_absent_mark) is no pose to start from, and the person was gone there:
    after a mark, the first keyframe after `frame` (they came in between)."""
    keys = [k for k in video.keyframes(track_id) if k != frame] if track_id in video.tracks else []
    before = [k for k in keys if k < frame]
    after = [k for k in keys if k > frame]
    for k in before[-1:] + after[:1]:
        if not video.pose(k, track_id).is_absent_mark():
            return k
    return None


def chain_keyframe(video: Video, track_id: int, frame: int) -> int | None:
    """The keyframe whose flow chain serves a person's suggestions after `frame`: their last
    keyframe at or before it; None without one, or when that is a "not in view" mark (nothing to
    flow: source_keyframe starts from the next keyframe there)."""
    before = [k for k in video.keyframes(track_id) if k <= frame] if track_id in video.tracks else []
    if not before or video.pose(before[-1], track_id).is_absent_mark():
        return None
    return before[-1]


def pose_digest(pose: Pose | None) -> tuple:
    """What a suggestion reads of a keyframe pose: its joints and box (an edit there makes a new
    chain), not their provenance (accepting suggested joints changes nothing to carry)."""
    if pose is None:
        return ()
    return (pose.xy.tobytes(), pose.visibility.tobytes(), pose.bbox)


class Chain:
    """One keyframe pose flowed forward frame by frame; `points[f]` in working pixels."""

    def __init__(self, frames, key: int, pose: Pose, flow_fn):
        self.frames, self.key, self.flow_fn = frames, key, flow_fn
        self.region, self.scale = flow_region(frames, [pose], one_sided=True, max_side=MAX_SIDE)
        self.origin = np.array(self.region[:2], np.float64)
        self.labelled = pose.labelled()
        self.points = {key: (np.asarray(pose.xy, np.float64) - self.origin) * self.scale}
        self.last = key
        self._gray: tuple[int, np.ndarray] | None = None

    def _load(self, i: int) -> np.ndarray:
        return working_gray(self.frames, i, self.region, self.scale)

    def extend(self, upto: int, stop=None) -> bool:
        """Flow the chain on to frame `upto` (at most the last frame); False if `stop()` said so
        before it got there (what is done so far is kept)."""
        upto = min(upto, self.frames.num_frames - 1)
        while self.last < upto:
            if stop is not None and stop():
                return False
            t = self.last
            a = self._gray[1] if self._gray is not None and self._gray[0] == t else self._load(t)
            b = self._load(t + 1)
            pts = self.points[t]
            self.points[t + 1] = pts + sample_flow(self.flow_fn(a, b), pts)
            self._gray, self.last = (t + 1, b), t + 1
        return True

    def at(self, frame: int) -> np.ndarray:
        """(J, 2) image pixels on `frame` (reached already), NaN where the keyframe has no joint."""
        xy = self.points[frame] / self.scale + self.origin
        return np.where(self.labelled[:, None], xy, np.nan)


class Carrier:
    """Carried poses for one video's frames, with its chains kept (least recently used dropped)."""

    def __init__(self, frames):
        self.frames = frames
        self._flow_fn = make_flow_function("dis")
        self._backward = FlowMethod("dis", max_side=MAX_SIDE)
        self._chains: OrderedDict = OrderedDict()

    @staticmethod
    def _name(video: Video, track_id: int, key: int) -> tuple:
        """A chain's key: the person, their keyframe and its pose as labelled now."""
        return track_id, key, pose_digest(video.pose(key, track_id))

    def kept(self, video: Video, track_id: int, key: int) -> Chain | None:
        """The kept chain from the person's keyframe `key` as it is labelled now, or None."""
        return self._chains.get(self._name(video, track_id, key))

    def chain(self, video: Video, track_id: int, key: int) -> Chain:
        """The kept chain from `key`, else a new one (the least recently used beyond CHAINS_KEPT dropped)."""
        name = self._name(video, track_id, key)
        found = self._chains.get(name)
        if found is None:
            found = self._chains[name] = Chain(self.frames, key, video.pose(key, track_id), self._flow_fn)
            while len(self._chains) > CHAINS_KEPT:
                self._chains.popitem(last=False)
        self._chains.move_to_end(name)
        return found

    def carry(self, video: Video, frame: int, track_id: int, key: int) -> np.ndarray:
        """The keyframe `key`'s pose of the person on `frame`: (J, 2), NaN where it has no joint."""
        pose = video.pose(key, track_id)
        if key == frame:
            return pose.labelled_xy()
        if key < frame:
            chain = self.chain(video, track_id, key)
            chain.extend(frame)
            return chain.at(frame)
        # Before the person's first keyframe (rare: the annotator labels forward): the fill's
        # backward chain, not kept.
        none = lambda: None  # noqa: E731 - propagate's cancel check
        _, side = self._backward.propagate(self.frames, Span(None, key, frame, frame), None, [pose], none)
        return np.where(pose.labelled()[:, None], side.xy[0, 0], np.nan)

    def carried_if_ready(self, video: Video, frame: int, track_id: int, key: int) -> np.ndarray | None:
        """carry()'s answer when it costs no flow (a kept chain from `key` has reached `frame`), else None."""
        if key == frame:
            return video.pose(key, track_id).labelled_xy()
        chain = self.kept(video, track_id, key)
        if chain is None or key > frame or chain.last < frame:
            return None
        return chain.at(frame)

    def furthest(self, video: Video, frame: int, track_id: int, key: int) -> np.ndarray:
        """The keyframe `key`'s pose of the person as far toward `frame` as a kept chain has
        reached without more flow (the keyframe's own pose when none has moved on): (J, 2), NaN
        where it has no joint. Where a quick first suggestion crops (Suggester.quick)."""
        chain = self.kept(video, track_id, key)
        if chain is None or key >= frame:
            return video.pose(key, track_id).labelled_xy()
        return chain.at(min(chain.last, frame))

    def extend(self, video: Video, track_id: int, start: int, upto: int, stop=None) -> tuple | None:
        """Flow the person's chain from chain_keyframe(start) on to `upto` ahead of a request (see
        the module doc). Returns (keyframe, its pose_digest, the last frame reached), or None
        without such a keyframe; `stop()` ends it early."""
        key = chain_keyframe(video, track_id, start)
        if key is None:
            return None
        chain = self.chain(video, track_id, key)
        chain.extend(upto, stop)
        return key, pose_digest(video.pose(key, track_id)), chain.last
