"""Temporal refinement of auto-filled poses: the paper's 5-frame aggregation weights applied to
joint positions (0.3 for the frame, 0.25 for t-1 and t+1, 0.1 for t-2 and t+2).

For the non-network methods this is a weighted temporal smoothing of auto-filled joints (weights
renormalised over the neighbours that have the joint). For the network (a PoseWarperMethod with
the video's frames) it is the network's own aggregation mode: the five frames' heatmaps warped to
the frame and weighted; a joint moves only where the aggregated peak is confident. Either way,
joints an annotator placed or corrected, and keyframes, never move.
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, PoseChange, Video

AGGREGATION_WEIGHTS = (0.3, 0.25, 0.1)  # |dt| = 0, 1, 2


def refine_poses(
    video: Video,
    overrides: dict[tuple[int, int], Pose] | None = None,
    *,
    track_ids=None,
    frame_range: tuple[int, int] | None = None,
    weights: tuple[float, ...] = AGGREGATION_WEIGHTS,
    method=None,
    frames=None,
) -> list[PoseChange]:
    """Refine the auto-filled joints of `video` (with `overrides` {(frame, track): pose} laid over
    its poses) and return the changes. With a network `method` and `frames`, the network's
    aggregation; otherwise the weighted smoothing."""
    overrides = overrides or {}
    tids = sorted(video.tracks) if track_ids is None else sorted(track_ids)
    by_track = {}
    targets = []  # (track, frame, pose) to refine
    for tid in tids:
        poses = {f: by[tid] for f, by in video.poses.items() if tid in by}
        poses.update({f: p for (f, t), p in overrides.items() if t == tid and p is not None})
        by_track[tid] = poses
        for f in sorted(poses):
            pose = poses[f]
            in_range = frame_range is None or frame_range[0] <= f <= frame_range[1]
            if in_range and not pose.keyframe and pose.auto_joints().any():
                targets.append((tid, f, pose))
    if frames is not None and hasattr(method, "model"):
        return _aggregate(video, method, frames, targets)
    return _smooth(video, by_track, targets, weights)


def _smooth(video: Video, by_track, targets, weights) -> list[PoseChange]:
    radius = len(weights) - 1
    changes = []
    for tid, f, pose in targets:
        poses = by_track[tid]
        auto = pose.auto_joints()
        acc = np.zeros((pose.num_joints, 2))
        wsum = np.zeros(pose.num_joints)
        for dt in range(-radius, radius + 1):
            q = poses.get(f + dt)
            if q is None or q.num_joints != pose.num_joints:
                continue
            m = q.labelled() & auto
            acc[m] += weights[abs(dt)] * q.xy[m]
            wsum[m] += weights[abs(dt)]
        new = pose.copy()
        new.xy[auto] = acc[auto] / wsum[auto, None]
        if not np.allclose(new.xy[auto], pose.xy[auto]):
            changes.append(PoseChange(video.video_id, f, tid, new))
    return changes


def _aggregate(video: Video, method, frames, targets) -> list[PoseChange]:
    from .posewarper_method import AGGREGATE_MAX_SHIFT, AGGREGATE_MIN_PEAK, aggregate_joints

    results = aggregate_joints(method, frames, video.num_frames, [(f, p) for _, f, p in targets])
    changes = []
    for (tid, f, pose), (xy, peak) in zip(targets, results):
        size = max((pose.box_or_extent() or (0, 0, 1, 1))[2:])
        near = np.linalg.norm(xy - pose.xy, axis=1) <= AGGREGATE_MAX_SHIFT * size  # refine, never re-detect
        move = pose.auto_joints() & (peak >= AGGREGATE_MIN_PEAK) & near
        if move.any():
            new = pose.copy()
            new.xy[move] = xy[move]
            new.confidence[move] = np.clip(peak[move], 0.0, 1.0)
            changes.append(PoseChange(video.video_id, f, tid, new))
    return changes
