"""Pieces shared by the PoseTrack 2018 and COCO readers and writers.

Reading: `load_json` turns any undecodable file into one FormatError; `Entry` checks the type and
range of each field and names the file and the entry when one is wrong; `pose_from_annotation`
and `pose_to_annotation` translate between the model's Pose and a keypoint annotation.

Both formats carry the model losslessly: the standard fields hold what other tools read, and a
top-level "posewarper" object holds what they have no field for (skeleton details, video name,
fps, keyframe stride, the tracks with their names, the video file an image list stands for).
Each pose also carries "keyframe", "propagated", "reviewed" (an annotator accepted the filled
pose as it is), "method", "keypoint_provenance" and, per joint, its confidence in "scores".
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..annotation import AUTO_CHOICES, Pose, Provenance, Video, is_auto
from ..atomic_file import put_in_place, staged
from ..errors import FormatError, PoseWarperError
from ..safe_output import why_not_written
from .. import store_schema
from ..skeleton import BUILTIN_SKELETONS, Skeleton

META_KEY = "posewarper"
META_VERSION = 1
GENERATOR = "posewarper-annotate"

# Coordinates and box values beyond this are surely corrupt, whatever the image size.
MAX_COORD = 1e7
MAX_ID = store_schema.MAX_ID  # the largest id a project can hold: what we read, we can store

PROVENANCE_NAMES = {p: p.name.lower() for p in Provenance}
PROVENANCE_BY_NAME = {name: p for p, name in PROVENANCE_NAMES.items()}
_PROVENANCE_NAME_BY_VALUE = [PROVENANCE_NAMES.get(v, "none") for v in range(max(Provenance) + 1)]


# ---------------------------------------------------------------- reading and checking

def _object(pairs: list) -> dict:
    # A Python-level hook per JSON object (json.loads' default builds them in C) lets other
    # threads run while a big file parses: a plain call held the GIL ~0.9 s on a 24 MB file,
    # freezing a GUI that imports on a worker thread. The result and the speed are the same.
    return dict(pairs)


def load_json(path: Path) -> Any:
    """The parsed document, or one FormatError naming the file (missing, not UTF-8, not JSON)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except IsADirectoryError:
        raise FormatError(path, "is a folder, not an annotation file") from None
    except OSError as exc:
        raise FormatError(path, f"cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise FormatError(path, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise FormatError(path, "not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise FormatError(path, f"not valid JSON: {exc}") from None


class Entry:
    """One object of the document (a dict), with checked accessors that name it in errors.

    `label` reads like "annotations[12] (id 57)"; errors read
    "<file>, annotations[12] (id 57): keypoints has 50 numbers, expected 51".
    """

    def __init__(self, path: Path, label: str, obj: Any):
        self.path = path
        self.label = label
        if not isinstance(obj, dict):
            self.fail(f"must be an object, got {type_name(obj)}")
        self.obj = obj

    def fail(self, message: str):
        raise FormatError(self.path, message, self.label)

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def raw(self, key: str, required: bool = True) -> Any:
        value = self.obj.get(key)
        if value is None and required:
            self.fail(f"'{key}' is missing")
        return value

    def int(self, key: str, required: bool = True, minimum: int | None = None) -> int | None:
        value = self.raw(key, required)
        return None if value is None else self.to_int(value, key, minimum)

    def to_int(self, value: Any, what: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{what} must be an integer, got {type_name(value)}")
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                self.fail(f"{what} must be an integer, got {value!r}")
            value = int(value)
        if abs(value) > MAX_ID:
            self.fail(f"{what} is too large ({str(value)[:20]}...)")
        if minimum is not None and value < minimum:
            self.fail(f"{what} must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, required: bool = True) -> float | None:
        value = self.raw(key, required)
        return None if value is None else self.to_number(value, key)

    def to_number(self, value: Any, what: str, limit: float = MAX_COORD) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{what} must be a number, got {type_name(value)}")
        try:
            number = float(value)
        except OverflowError:
            self.fail(f"{what} is too large")
        if math.isnan(number):
            self.fail(f"{what} is NaN")
        if math.isinf(number):
            self.fail(f"{what} is infinite")
        if abs(number) > limit:
            self.fail(f"{what} is {number:g}, outside ±{limit:g}")
        return number

    def string(self, key: str, required: bool = True) -> str | None:
        value = self.raw(key, required)
        if value is not None and not isinstance(value, str):
            self.fail(f"'{key}' must be a string, got {type_name(value)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.obj.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        self.fail(f"'{key}' must be true or false, got {value!r:.40}")

    def list(self, key: str, required: bool = True) -> list | None:
        value = self.raw(key, required)
        if value is not None and not isinstance(value, list):
            self.fail(f"'{key}' must be a list, got {type_name(value)}")
        return value

    def numbers(self, key: str, length: int | None = None, required: bool = True) -> list[float] | None:
        values = self.list(key, required)
        if values is None:
            return None
        if length is not None and len(values) != length:
            self.fail(f"{key} has {len(values)} numbers, expected {length}")
        return [self.to_number(v, f"{key}[{i}]") for i, v in enumerate(values)]

    def box(self, key: str) -> tuple[float, float, float, float] | None:
        """An [x, y, width, height] box, or None when absent (or empty, as some tools write it)."""
        value = self.raw(key, required=False)
        if value is None or value == []:
            return None
        x, y, w, h = self.numbers(key, 4)
        if w < 0 or h < 0:
            self.fail(f"{key} has a negative size ({w:g} x {h:g})")
        return (x, y, w, h)


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def top_list(path: Path, doc: Any, key: str, required: bool = True) -> list:
    """doc[key] as a list (the document itself must be an object)."""
    if not isinstance(doc, dict):
        raise FormatError(path, f"the document must be a JSON object, got {type_name(doc)}")
    value = doc.get(key)
    if value is None:
        if required:
            raise FormatError(path, f"'{key}' is missing")
        return []
    if not isinstance(value, list):
        raise FormatError(path, f"'{key}' must be a list, got {type_name(value)}")
    return value


def entry_label(section: str, index: int, obj: Any) -> str:
    """"annotations[12] (id 57)", or without the id when it is not a plain number."""
    ident = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(ident, (int, str)) and not isinstance(ident, bool) and len(str(ident)) <= 24:
        return f"{section}[{index}] (id {ident})"
    return f"{section}[{index}]"


class ImageEntry:
    """The fields of an entry of `images` both formats read, checked; each format's reader adds
    its own (COCO's video keys, PoseTrack's vid_id and ignore regions)."""

    def __init__(self, path: Path, index: int, raw):
        e = Entry(path, entry_label("images", index, raw), raw)
        self.entry = e
        self.id = e.int("id")
        self.file_name = e.string("file_name")
        if not self.file_name:
            e.fail("'file_name' is empty")
        self.width = e.int("width", required=False, minimum=1)
        self.height = e.int("height", required=False, minimum=1)
        self.frame_id = e.int("frame_id", required=False)
        self.is_labeled = e.boolean("is_labeled", True) and e.boolean("is_labeled_declared", True)


# ---------------------------------------------------------------- skeleton from categories

def skeleton_from_category(entry: Entry, meta_skeleton: Skeleton | None) -> Skeleton:
    """The skeleton a keypoint category describes.

    Joint names equal to a built-in skeleton's give that skeleton (its edges and OKS sigmas);
    a skeleton described in our metadata with the same joints gives that one; any other list
    gives a custom skeleton with the category's edges.
    """
    names = entry.list("keypoints")
    if not names:
        entry.fail("'keypoints' lists no joint names")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            entry.fail(f"keypoints[{i}] must be a joint name, got {name!r:.40}")
    if len(set(names)) != len(names):
        entry.fail("keypoints has duplicate joint names")
    joints = tuple(names)
    if meta_skeleton is not None and meta_skeleton.joints == joints:
        return meta_skeleton
    for builtin in BUILTIN_SKELETONS.values():
        if builtin.joints == joints:
            return builtin
    edges = []
    for i, pair in enumerate(entry.list("skeleton", required=False) or []):
        if not isinstance(pair, list) or len(pair) != 2:
            entry.fail(f"skeleton[{i}] must be a pair of joint numbers")
        a, b = (entry.to_int(v, f"skeleton[{i}]") for v in pair)
        if not (1 <= a <= len(joints) and 1 <= b <= len(joints)):
            entry.fail(f"skeleton[{i}] = [{a}, {b}] is outside 1..{len(joints)}")
        edges.append((a - 1, b - 1))
    name = entry.obj.get("name") if isinstance(entry.obj.get("name"), str) else "custom"
    return Skeleton(name=name or "custom", joints=joints, edges=tuple(edges))


def meta_skeleton(path: Path, meta: dict | None) -> Skeleton | None:
    if not meta or meta.get("skeleton") is None:
        return None
    try:
        return Skeleton.from_dict(meta["skeleton"])
    except (PoseWarperError, AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise FormatError(path, f"invalid skeleton description: {exc}", f"{META_KEY}.skeleton") from None


def read_meta(path: Path, doc: dict, expected_format: str) -> dict | None:
    """Our metadata object if the file has one (written by this tool), else None."""
    meta = doc.get(META_KEY)
    if meta is None:
        return None
    entry = Entry(path, META_KEY, meta)
    entry.list("videos", required=False)
    fmt = entry.string("format", required=False)
    if fmt is not None and fmt != expected_format:
        entry.fail(f"this file was written as {fmt}, not {expected_format}")
    return meta


def category_entry(path: Path, doc: dict, meta: dict | None, required: bool) -> tuple[Skeleton, set[int]]:
    """The skeleton and the ids of the keypoint categories. All must share one joint list."""
    categories = top_list(path, doc, "categories", required)
    skel_meta = meta_skeleton(path, meta)
    skeleton: Skeleton | None = None
    ids: set[int] = set()
    all_ids: set[int] = set()
    for i, raw in enumerate(categories):
        entry = Entry(path, entry_label("categories", i, raw), raw)
        cid = entry.int("id")
        if cid in all_ids:
            entry.fail(f"duplicate category id {cid}")
        all_ids.add(cid)
        if not entry.has("keypoints"):
            continue  # a category without keypoints (not a person): its annotations are skipped
        found = skeleton_from_category(entry, skel_meta)
        if skeleton is not None and found.joints != skeleton.joints:
            entry.fail("its joints differ from those of an earlier category; one skeleton per file")
        skeleton = skeleton or found
        ids.add(cid)
    if skeleton is None:
        if categories:
            raise FormatError(path, "no category lists keypoints", "categories")
        return None, set()  # type: ignore[return-value]
    return skeleton, ids


# ---------------------------------------------------------------- poses

def pose_from_annotation(entry: Entry, skeleton: Skeleton, occlusion_flags: bool, ours: bool = False) -> Pose:
    """The pose one annotation holds.

    `occlusion_flags` False means the file uses PoseTrack's 0/1 visibility (1 = labelled, with no
    occlusion information): 1 becomes VISIBLE. True means COCO's 0/1/2 (1 = labelled but hidden).
    A joint with v=0 is not labelled, whatever its coordinates (the official data writes 0,0,0).
    A joint at exactly (0, 0) with v>0 is taken as not labelled too in other tools' files: no
    annotator clicks the corner pixel exactly, while converters that flag every joint (some
    write v=2 for all) leave missing ones there. In files we wrote (`ours`) the flag decides.
    """
    n = skeleton.num_joints
    values = entry.raw("keypoints", required=False)
    xy = np.zeros((n, 2))
    vis = np.zeros(n, np.uint8)
    if values is not None and values != []:
        if not isinstance(values, list):
            entry.fail(f"'keypoints' must be a list, got {type_name(values)}")
        if len(values) != 3 * n:
            entry.fail(f"keypoints has {len(values)} numbers, expected {3 * n} ({n} joints x 3)")
        xy, vis = _decode_keypoints(entry, values, skeleton, occlusion_flags, ours)
    labelled = vis > 0

    provenance = _provenance(entry, n, labelled)
    scores = entry.list("scores", required=False)
    if scores:
        if len(scores) != n:
            entry.fail(f"scores has {len(scores)} numbers, expected {n}")
        confidence = _plain_numbers(scores)
        if confidence is None:
            confidence = np.array([entry.to_number(s, f"scores[{j}]") for j, s in enumerate(scores)])
        confidence = confidence.astype(np.float32)
    else:
        confidence = labelled.astype(np.float32)
    auto = is_auto(provenance) & labelled
    keyframe = entry.boolean("keyframe", default=not auto.any())
    method = entry.string("method", required=False)
    # "reviewed" is our key: another tool's file may use the name for something else.
    bbox = None if entry.boolean("bbox_estimated", False) else entry.box("bbox")
    head_box = None if entry.boolean("bbox_head_estimated", False) else entry.box("bbox_head")
    return Pose(xy, vis, provenance, confidence, keyframe=keyframe, method=method,
                bbox=bbox, head_box=head_box, reviewed=ours and entry.boolean("reviewed", False))


_NUMBER_TYPES = frozenset((int, float))


def _plain_numbers(values: list, limit: float = MAX_COORD) -> np.ndarray | None:
    """`values` as floats if every one is an int or a float (no bool), finite and within ±limit;
    else None, and the caller's checks one by one find and name the bad value. A few array
    operations instead of Entry.to_number on each of a pose's 68 numbers."""
    if not _NUMBER_TYPES.issuperset(map(type, values)):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:  # an int beyond a float's range
        return None
    return array if (np.abs(array) <= limit).all() else None  # NaN compares False too


def _decode_keypoints(entry: Entry, values: list, skeleton: Skeleton, occlusion_flags: bool,
                      ours: bool) -> tuple[np.ndarray, np.ndarray]:
    """(xy, visibility) from an annotation's keypoint list, by the rules of pose_from_annotation."""
    n = skeleton.num_joints
    numbers = _plain_numbers(values)
    if numbers is not None:
        triples = numbers.reshape(n, 3)
        v = triples[:, 2]
        if ((v == 0) | (v == 1) | (v == 2)).all():
            keep = v > 0
            if not ours:
                keep &= (triples[:, 0] != 0) | (triples[:, 1] != 0)
            flag = np.where((v == 2) | (not occlusion_flags), 2, 1)
            return np.where(keep[:, None], triples[:, :2], 0.0), np.where(keep, flag, 0).astype(np.uint8)
    # Something is off (or a joint that is not labelled carries junk): one by one, naming it.
    xy = np.zeros((n, 2))
    vis = np.zeros(n, np.uint8)
    for j in range(n):
        v = entry.to_number(values[3 * j + 2], f"keypoints[{3 * j + 2}] (visibility of {skeleton.joints[j]})")
        if v not in (0, 1, 2):
            entry.fail(f"keypoints[{3 * j + 2}]: visibility of {skeleton.joints[j]} must be 0, 1 or 2, got {v:g}")
        if v == 0:
            continue
        x = entry.to_number(values[3 * j], f"keypoints[{3 * j}] (x of {skeleton.joints[j]})")
        y = entry.to_number(values[3 * j + 1], f"keypoints[{3 * j + 1}] (y of {skeleton.joints[j]})")
        if x == 0 and y == 0 and not ours:
            continue
        vis[j] = 2 if (v == 2 or not occlusion_flags) else 1
        xy[j] = (x, y)
    return xy, vis


def _provenance(entry: Entry, n: int, labelled: np.ndarray) -> np.ndarray:
    names = entry.list("keypoint_provenance", required=False)
    if not names:
        default = Provenance.PROPAGATED if entry.boolean("propagated", False) else Provenance.MANUAL
        return np.where(labelled, default, Provenance.NONE).astype(np.uint8)
    if len(names) != n:
        entry.fail(f"keypoint_provenance has {len(names)} entries, expected {n}")
    try:  # the names as we write them: one look-up each (the loop below costs 8x as much)
        codes = [PROVENANCE_BY_NAME.get(name) for name in names]
        if None not in codes:
            return np.array(codes, np.uint8)
    except TypeError:  # a list or an object in the list: named below
        pass
    out = np.zeros(n, np.uint8)
    for j, name in enumerate(names):
        if isinstance(name, str) and name.lower() in PROVENANCE_BY_NAME:
            out[j] = PROVENANCE_BY_NAME[name.lower()]
        elif isinstance(name, int) and not isinstance(name, bool) and name in {p.value for p in Provenance}:
            out[j] = name
        else:
            entry.fail(f"keypoint_provenance[{j}] = {name!r:.40} is not one of {', '.join(PROVENANCE_BY_NAME)}")
    return out


def check_pose(entry: Entry, pose: Pose, width: int | None, height: int | None) -> None:
    try:
        pose.validate(width or None, height or None)
    except PoseWarperError as exc:
        entry.fail(str(exc))


def short_float32(value) -> float:
    """A float32 as the shortest decimal that reads back to the same float32 (0.3, not 0.30000001)."""
    return float(str(np.float32(value)))



def auto_choice(include_auto) -> str:
    """One of AUTO_CHOICES from an export's `include_auto`: one of them, or True ("all") or
    False ("none") as callers gave it before "reviewed" existed."""
    if isinstance(include_auto, bool):
        return "all" if include_auto else "none"
    if include_auto in AUTO_CHOICES:
        return include_auto
    raise ValueError(f"which auto-filled joints to export: {include_auto!r}; choose from {', '.join(AUTO_CHOICES)}")


def auto_meta(include_auto):
    """The export's "include_auto" field: True or False as it always was, "reviewed" for that choice."""
    auto = auto_choice(include_auto)
    return auto if auto == "reviewed" else auto == "all"


def exported_joints(pose: Pose, auto: str) -> np.ndarray:
    """The joints an export writes: labelled ones, never suggested ones (not yet accepted), less the
    auto-filled ones when `auto` (AUTO_CHOICES) is "none", or "reviewed" and the pose is not; with
    "reviewed", none of a filled pose nobody accepted (not the few joints corrected by hand on it:
    a trial's export wrote one ankle with a 0.2 x 0.2 px box; "none" keeps writing those joints,
    as --no-auto always has)."""
    keep = pose.labels()  # suggestions are never labels
    if auto == "reviewed" and not pose.reviewed and not pose.keyframe and pose.auto_joints().any():
        return np.zeros_like(keep)
    if auto == "none" or (auto == "reviewed" and not pose.reviewed):
        keep &= ~is_auto(pose.provenance)
    return keep


def poses_to_export(path: Path, video: Video, frame: int, by_track: dict[int, Pose], skeleton: Skeleton,
                    include_auto, counts: dict):
    """(track_id, pose, joints to write) for a frame's poses in track order, each checked
    (validate_pose_for_export); `include_auto` says which auto-filled joints (auto_choice).
    Counted in `counts`, for the export's report (report.py): a pose left with no joint to write
    because its joints are all auto-filled and those are left out ("left_out_auto") or are all
    suggestions not yet accepted ("left_out_suggested"), both skipped; suggested joints left out
    of poses written ("suggested_joints_left_out"); keyframes and reviewed poses written
    ("keyframes", "reviewed_poses"); "not in view" marks, never written ("absent_marks")."""
    auto = auto_choice(include_auto)
    for track_id, pose in sorted(by_track.items()):
        if pose.is_absent_mark():  # "not in view here" is no annotation
            counts["absent_marks"] = counts.get("absent_marks", 0) + 1
            continue
        validate_pose_for_export(path, video, frame, track_id, pose, skeleton)
        keep = exported_joints(pose, auto)
        suggested = int(pose.suggested_joints().sum())
        if pose.labelled().any() and not keep.any():
            why = "left_out_suggested" if suggested == int(pose.labelled().sum()) else "left_out_auto"
            counts[why] = counts.get(why, 0) + 1
            continue
        for key, n in (("suggested_joints_left_out", suggested), ("keyframes", int(pose.keyframe)),
                       ("reviewed_poses", int(pose.reviewed))):
            counts[key] = counts.get(key, 0) + n
        yield track_id, pose, keep


def pose_to_annotation(pose: Pose, keep: np.ndarray, estimate_bbox: bool,
                       head_joints: tuple[int, int] | None = None) -> dict:
    """The keypoint fields of one annotation (ids are the caller's). `head_joints` (head_top,
    head_bottom): a pose with no head box gets one estimated from those two written joints
    (estimated_head_box), flagged "bbox_head_estimated", which reading leaves out again."""
    keypoints: list[float] = []
    # Python lists, not numpy scalars, in the loop: a fifth of an export's time went on those.
    for (x, y), v, kept in zip(pose.xy.tolist(), pose.visibility.tolist(), keep.tolist()):
        keypoints += [x, y, v] if kept else [0, 0, 0]
    dropped = pose.labelled() & ~keep  # auto joints left out: written as not labelled
    provenance = np.where(dropped, Provenance.NONE, pose.provenance)
    confidence = np.where(dropped, 0.0, pose.confidence)
    auto = is_auto(provenance) & keep
    out: dict[str, Any] = {
        "keypoints": keypoints,
        "num_keypoints": int(keep.sum()),
        "scores": [short_float32(c) for c in confidence],
        "keypoint_provenance": [_PROVENANCE_NAME_BY_VALUE[p] for p in provenance.tolist()],
        "keyframe": bool(pose.keyframe),
        "propagated": bool(auto.any()),
        # An annotator looked at this filled pose and accepted it (review.py); other readers
        # ignore the key, ours reads it back.
        "reviewed": bool(pose.reviewed),
    }
    if pose.method is not None:
        out["method"] = pose.method
    if pose.bbox is not None:
        out["bbox"] = [float(v) for v in pose.bbox]
    elif estimate_bbox:
        box = _extent_box(pose, keep)
        out["bbox"] = [float(v) for v in box] if box else [0.0, 0.0, 0.0, 0.0]
        out["bbox_estimated"] = True
    if pose.head_box is not None:
        out["bbox_head"] = [float(v) for v in pose.head_box]
    elif head_joints is not None:
        box = estimated_head_box(pose, keep, *head_joints)
        if box is not None:
            out["bbox_head"] = [float(v) for v in box]
            out["bbox_head_estimated"] = True
    return out


def estimated_head_box(pose: Pose, keep: np.ndarray, top: int, bottom: int):
    """A square of side |head_top - head_bottom| centred between the two (the rule the demo
    clip's head boxes follow, demo_clip.py), or None without both: PoseTrack's evaluation reads
    each person's head size from bbox_head, and a trial's export had none (poses made here have no
    head box unless one was imported)."""
    if not (keep[top] and keep[bottom]):
        return None
    side = float(np.linalg.norm(pose.xy[top] - pose.xy[bottom]))
    if side <= 0:
        return None
    cx, cy = (pose.xy[top] + pose.xy[bottom]) / 2
    return (float(cx - side / 2), float(cy - side / 2), side, side)


def _extent_box(pose: Pose, keep: np.ndarray, pad: float = 0.1):
    """The exported joints' extent grown by `pad` of its longer side on each side."""
    if not keep.any():
        return None
    lo = pose.xy[keep].min(axis=0)
    hi = pose.xy[keep].max(axis=0)
    size = max(hi[0] - lo[0], hi[1] - lo[1], 1.0)
    return (lo[0] - pad * size, lo[1] - pad * size, hi[0] - lo[0] + 2 * pad * size, hi[1] - lo[1] + 2 * pad * size)


def validate_pose_for_export(path: Path, video: Video, frame: int, track_id: int, pose: Pose,
                             skeleton: Skeleton) -> None:
    """FormatError naming the video, frame and track if an export cannot carry this pose."""
    where = f"video {video.name or video.video_id}, frame {frame}, track {track_id}"
    if pose.num_joints != skeleton.num_joints:
        raise FormatError(path, f"pose has {pose.num_joints} joints, the skeleton {skeleton.num_joints}", where)
    try:
        pose.validate(video.width or None, video.height or None)
    except PoseWarperError as exc:
        raise FormatError(path, str(exc), where) from None
    if pose.provenance.size and int(pose.provenance.max()) > max(Provenance):
        raise FormatError(path, f"unknown provenance {int(pose.provenance.max())}", where)
    boxes = [b for b in (pose.bbox, pose.head_box) if b is not None]
    if any(abs(v) > MAX_COORD for b in boxes for v in b):
        raise FormatError(path, "a box lies far outside any image", where)
    if not np.isfinite(pose.xy[pose.labelled()]).all() or (np.abs(pose.xy[pose.labelled()]) > MAX_COORD).any():
        raise FormatError(path, "a joint lies far outside any image", where)


# A video's poses in frame order, {track id: pose} per frame that has any. An export reads them
# through such a function: from the Video in memory (poses_in_memory), or streamed from a
# project file (project_snapshot.ProjectSnapshot.pose_frames), so it never holds them all.
PoseFrames = Callable[[Video], Iterator[tuple[int, dict[int, Pose]]]]


def poses_in_memory(video: Video) -> Iterator[tuple[int, dict[int, Pose]]]:
    for frame in sorted(video.poses):
        yield frame, video.poses[frame]


def frames_with_poses(path: Path, video: Video, pose_frames: PoseFrames):
    """(frame, {track id: pose}) for every frame 0..num_frames-1 in order ({} where none), and
    FormatError if the source has a pose outside the video."""
    source = iter(pose_frames(video))
    next_frame, next_poses = next(source, (None, None))
    for frame in range(video.num_frames):
        if next_frame == frame:
            yield frame, next_poses
            next_frame, next_poses = next(source, (None, None))
        else:
            yield frame, {}
    if next_frame is not None:
        raise FormatError(path, f"a pose at frame {next_frame}, outside the video's {video.num_frames} frames",
                          f"video {video.name or video.video_id}")


class JsonList:
    """A list of a document written as it is made: items go as compact JSON text to a temporary
    file beside the output (not to memory), to be copied into the document in place. The
    document's text is the same as json.dumps of the whole list would give."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.path.parent)
        self.count = 0

    def append(self, item) -> None:
        try:
            text = _dumps(item)
        except (ValueError, TypeError) as exc:
            raise FormatError(self.path, f"cannot encode: {exc}") from None
        self._spool.write(("," if self.count else "") + text)
        self.count += 1

    def copy_to(self, out) -> None:
        out.write("[")
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, out, 1 << 20)
        out.write("]")

    def close(self) -> None:
        self._spool.close()


def write_document(out, path: Path, parts: list[tuple[str, Any]]) -> None:
    """Write {key: value, ...} as dump_json would, a JsonList value copied from its spool."""
    try:
        out.write("{")
        for i, (key, value) in enumerate(parts):
            out.write(("," if i else "") + _dumps(key) + ":")
            if isinstance(value, JsonList):
                value.copy_to(out)
            else:
                out.write(_dumps(value))
        out.write("}")
    except (ValueError, TypeError) as exc:
        raise FormatError(path, f"cannot encode: {exc}") from None


def staged_export(path: Path, write: Callable[[Any], dict]) -> tuple[Path, dict]:
    """Run write(out) into a new temporary file beside `path` (atomic_file.staged); returns the
    finished file and write's result. FormatError naming the file if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with staged(path) as (out, tmp):
            result = write(out)
    except OSError as exc:
        raise FormatError(path, why_not_written(path, exc)) from None
    return tmp, result


def write_export(path: Path, write: Callable[[Any], dict]) -> dict:
    """staged_export, then put in place: the file is written whole or not at all."""
    tmp, result = staged_export(path, write)
    try:
        put_in_place(tmp, path)
    except OSError as exc:
        raise FormatError(path, why_not_written(path, exc)) from None
    return result


# ---------------------------------------------------------------- frames on disk

def is_file(path: Path) -> bool:
    """Path.is_file that says False, not OSError, for a name no file can have (over 255 bytes
    a part, over the system's path limit): a file name from a document that cannot exist is
    simply not on disk."""
    try:
        return path.is_file()
    except OSError:
        return False


def frame_paths_root(path: Path, file_names: list[str], labels: list[str],
                     extra_roots: list[Path], check: bool) -> Path:
    """The folder the images' file names are relative to, checking that every frame is there.

    Candidates, in order: the image root our own metadata recorded, the annotation file's folder,
    then up to three folders above it (official PoseTrack files sit in
    posetrack_data/annotations/<split>/ while their file names start at the dataset root).
    With `check` off only the first frame is looked for, and the first candidate is taken when
    it is nowhere (label files converted without their images).
    """
    here = Path(path).resolve().parent
    candidates = [Path(r) for r in extra_roots] + [here, *list(here.parents)[:3]]
    if not file_names:
        return candidates[0]
    first = file_names[0]
    root = next((c for c in candidates if is_file(c / first)), None)
    if not check:
        return root or candidates[0]
    if root is None:
        looked = ", ".join(str(c) for c in candidates)
        raise FormatError(path, f"frame file {first!r} not found (looked in {looked})", labels[0])
    for name, label in zip(file_names, labels):
        if not is_file(root / name):
            raise FormatError(path, f"frame file {name!r} not found under {root}", label)
    return root


def video_size(path: Path, label: str, given: tuple, first_frame: Path | None, fallback: tuple,
               required: bool) -> tuple[int, int]:
    """The video's (width, height): as the images state it, else read from the first frame, else
    as our metadata recorded it; (0, 0) when unknown and not `required`. When `required` and the
    first frame can be read, a stated size that differs from it is refused: the labels were made
    on other images (a trial imported another clip's file into a folder whose frame names matched,
    and its poses were drawn squashed onto the wrong people)."""
    width, height = given
    on_disk = image_size_on_disk(first_frame) if first_frame is not None and (
        required or width is None or height is None) else None
    if width is None or height is None:
        width, height = on_disk or (None, None)
    elif required and on_disk is not None and (int(width), int(height)) != on_disk:
        raise FormatError(path, f"the file gives the images as {int(width)}x{int(height)}, but {first_frame} is "
                                f"{on_disk[0]}x{on_disk[1]}: these labels were made on other images (another video, "
                                "or frames resized since)", f"{label}.width/height")
    if width is None or height is None:
        width, height = fallback
    if not width or not height:
        if required:
            raise FormatError(path, "no width/height given and the frame cannot be read as an image", label)
        return 0, 0
    return int(width), int(height)


def image_size_on_disk(file: Path) -> tuple[int, int] | None:
    """(width, height) of an image file, or None if it cannot be read."""
    import cv2  # only needed for files that do not state the image size

    data = np.fromfile(str(file), dtype=np.uint8) if is_file(file) else None
    if data is None or data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # as the frames are read (video.py): the same orientation
    if image is None:
        return None
    return int(image.shape[1]), int(image.shape[0])


def natural_key(name: str):
    """Sort key that puts frame2.jpg before frame10.jpg."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def generic_stem_name(path: Path) -> str:
    """A video name from the annotation file: its stem, or its folder's name for generic stems."""
    p = Path(path).resolve()
    if p.stem.lower() in {"posetrack18", "posetrack", "annotations", "annotation", "gt", "labels", "coco", "keypoints"}:
        return p.parent.name or p.stem
    return p.stem


def absolute_source(video: Video, base_dir: str | os.PathLike | None) -> Path:
    source = Path(video.source)
    if not source.is_absolute():
        source = Path(base_dir or ".") / source
    return source.resolve()


# ---------------------------------------------------------------- writing

def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def video_meta(video: Video, base_dir, image_root: Path | None) -> dict:
    """What our metadata records about one video (all the model's video fields)."""
    return {
        "video_id": int(video.video_id),
        "name": video.name,
        "source": str(image_root if image_root is not None else absolute_source(video, base_dir)),
        "frame_files": video.frames is not None,
        "num_frames": int(video.num_frames),
        "width": int(video.width),
        "height": int(video.height),
        "fps": None if video.fps is None else float(video.fps),
        "keyframe_stride": int(video.keyframe_stride),
        "vid_id": video.vid_id,
        "tracks": [{"track_id": int(t.track_id), "name": t.name} for _, t in sorted(video.tracks.items())],
    }


STEM_BYTES = 200  # a folder name's limit is 255 bytes on common file systems; room to spare


def frame_file_names(video: Video, base_dir) -> list[str] | None:
    """Each frame's image file as exports name it, relative to the video's image root (the meta's
    `source`): an imported dataset's frame files, or the images of a folder opened as it is (a
    trial's COCO export of such a folder named frames/000000.jpg, where the folder held
    00001.png); None for a video file, whose frames get placeholder_file_name (the files
    `--frames` writes), as does a folder whose images no longer match the video's frames."""
    if video.frames is not None:
        return [ref.file_name for ref in video.frames]
    root = absolute_source(video, base_dir)
    if not root.is_dir():
        return None
    from ..video import list_images

    names = [p.name for p in list_images(root)]
    return names if len(names) == video.num_frames else None


def placeholder_file_name(video: Video, frame: int) -> str:
    """File names for a video that is a video file: the frames it would have if extracted. The
    folder is the video's name made safe: other characters than letters, digits, "_", "-" and "."
    become "_", no leading or trailing dots (a video named ".." must not name the parent folder),
    at most STEM_BYTES bytes."""
    stem = re.sub(r"[^\w.-]+", "_", video.name or Path(video.source).stem or "video").strip(".")
    stem = stem.encode()[:STEM_BYTES].decode(errors="ignore").rstrip(".") or "video"
    return f"{stem}/{frame:06d}.jpg"


class VideoMeta:
    """Our metadata about one video, checked, with the model's defaults where absent."""

    def __init__(self, path: Path, label: str, raw: Any):
        e = Entry(path, label, raw)
        self.entry = e
        self.video_id = e.int("video_id", required=False)
        self.name = e.string("name", required=False)
        self.source = e.string("source", required=False)
        self.frame_files = e.boolean("frame_files", True)
        self.num_frames = e.int("num_frames", required=False, minimum=0)
        self.width = e.int("width", required=False, minimum=0)
        self.height = e.int("height", required=False, minimum=0)
        self.fps = e.number("fps", required=False)
        if self.fps is not None and self.fps <= 0:
            e.fail(f"fps must be positive, got {self.fps:g}")
        self.keyframe_stride = e.int("keyframe_stride", required=False, minimum=1)
        self.has_vid_id = "vid_id" in e.obj
        self.vid_id = e.string("vid_id", required=False)
        self.tracks: list[tuple[int, str]] = []
        seen = set()
        for i, t in enumerate(e.list("tracks", required=False) or []):
            te = Entry(path, f"{label}.tracks[{i}]", t)
            tid = te.int("track_id", minimum=0)
            if tid in seen:
                te.fail(f"duplicate track_id {tid}")
            seen.add(tid)
            self.tracks.append((tid, te.string("name", required=False) or ""))

    def apply(self, video: Video) -> None:
        """Restore the video fields the standard format has no place for."""
        from ..annotation import Track

        if self.video_id is not None:
            video.video_id = self.video_id
        if self.name is not None:
            video.name = self.name
        if self.fps is not None:
            video.fps = self.fps
        if self.keyframe_stride is not None:
            video.keyframe_stride = self.keyframe_stride
        if self.has_vid_id:
            video.vid_id = self.vid_id
        for tid, name in self.tracks:
            track = video.tracks.get(tid) or Track(tid)
            track.name = name
            video.tracks[tid] = track
        if self.tracks:  # keep tracks in the recorded order, then any others
            order = [tid for tid, _ in self.tracks]
            video.tracks = {tid: video.tracks[tid] for tid in order} | {
                tid: t for tid, t in video.tracks.items() if tid not in order}
