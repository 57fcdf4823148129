"""Joint sets: names, edges, left/right flip pairs, OKS sigmas and mappings between them.

PoseTrack 2018 uses COCO's order with the two eyes replaced by head_bottom and head_top;
the ears are placeholders that PoseTrack never labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import PoseWarperError

COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)

# 1-based pairs as written in COCO/PoseTrack category "skeleton" fields.
_COCO_EDGES_1BASED = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)


@dataclass(frozen=True)
class Skeleton:
    """An ordered joint set. Edges and flip pairs are 0-based joint indices."""

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] = field(default=())

    def __post_init__(self):
        n = len(self.joints)
        if n == 0:
            raise PoseWarperError(f"skeleton {self.name!r}: no joints")
        if len(set(self.joints)) != n:
            raise PoseWarperError(f"skeleton {self.name!r}: duplicate joint names")
        for a, b in tuple(self.edges) + tuple(self.flip_pairs):
            if not (0 <= a < n and 0 <= b < n):
                raise PoseWarperError(f"skeleton {self.name!r}: pair ({a}, {b}) outside 0..{n - 1}")
        if not self.sigmas:
            object.__setattr__(self, "sigmas", (0.05,) * n)
        if len(self.sigmas) != n:
            raise PoseWarperError(f"skeleton {self.name!r}: {len(self.sigmas)} sigmas for {n} joints")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint_name: str) -> int:
        try:
            return self.joints.index(joint_name)
        except ValueError:
            raise PoseWarperError(f"skeleton {self.name!r} has no joint {joint_name!r}") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def coco_skeleton(self) -> list[list[int]]:
        """Edges 1-based, as COCO category files write them."""
        return [[a + 1, b + 1] for a, b in self.edges]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joints": list(self.joints),
            "edges": [list(e) for e in self.edges],
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "sigmas": list(self.sigmas),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Skeleton":
        try:
            return cls(
                name=str(d["name"]),
                joints=tuple(str(j) for j in d["joints"]),
                edges=tuple((int(a), int(b)) for a, b in d.get("edges", ())),
                flip_pairs=tuple((int(a), int(b)) for a, b in d.get("flip_pairs", ())),
                sigmas=tuple(float(s) for s in d.get("sigmas", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PoseWarperError(f"invalid skeleton definition: {exc}") from exc


_FLIP_17 = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))

COCO17 = Skeleton(
    name="coco17",
    joints=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    edges=tuple((a - 1, b - 1) for a, b in _COCO_EDGES_1BASED),
    flip_pairs=_FLIP_17,
    sigmas=COCO_SIGMAS,
)

# head_bottom/head_top are not a left/right pair, so they are not flipped.
POSETRACK17 = Skeleton(
    name="posetrack17",
    joints=(
        "nose", "head_bottom", "head_top", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    edges=tuple((a - 1, b - 1) for a, b in _COCO_EDGES_1BASED),
    flip_pairs=_FLIP_17[1:],
    sigmas=COCO_SIGMAS,
)

BUILTIN_SKELETONS = {s.name: s for s in (POSETRACK17, COCO17)}

# Joint groups used by the benchmark (PoseTrack's reporting groups).
JOINT_GROUPS = {
    "Head": ("nose", "head_bottom", "head_top", "left_eye", "right_eye", "left_ear", "right_ear"),
    "Shoulder": ("left_shoulder", "right_shoulder"),
    "Elbow": ("left_elbow", "right_elbow"),
    "Wrist": ("left_wrist", "right_wrist"),
    "Hip": ("left_hip", "right_hip"),
    "Knee": ("left_knee", "right_knee"),
    "Ankle": ("left_ankle", "right_ankle"),
}


def get_skeleton(name: str) -> Skeleton:
    try:
        return BUILTIN_SKELETONS[name]
    except KeyError:
        raise PoseWarperError(
            f"unknown skeleton {name!r}; built in: {', '.join(BUILTIN_SKELETONS)}"
        ) from None


def joint_mapping(src: Skeleton, dst: Skeleton) -> np.ndarray:
    """For each joint of dst, the index of the same-named joint in src, or -1.

    PoseTrack's head_bottom/head_top have no COCO counterpart and the eyes none in PoseTrack:
    those map to -1 (not labelled), never to a different body part.
    """
    return np.array([src.joints.index(j) if j in src.joints else -1 for j in dst.joints], dtype=np.int64)
