"""Temporal refinement of auto-filled poses: the paper's 5-frame aggregation weights applied to
joint positions (0.3 for the frame, 0.25 for t-1 and t+1, 0.1 for t-2 and t+2).

For the non-network methods this is a weighted temporal smoothing of auto-filled joints; joints an
annotator placed or corrected, and keyframes, never move (they are used as neighbours). Weights
are renormalised over the neighbours that have the joint.
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
    """Smooth the auto-filled joints of `video` (with `overrides` {(frame, track): pose} laid over
    its poses) and return the changes. `method`/`frames` are accepted for the network's own
    aggregation; without it every method gets the weighted smoothing."""
    overrides = overrides or {}
    radius = len(weights) - 1
    tids = sorted(video.tracks) if track_ids is None else sorted(track_ids)
    changes = []
    for tid in tids:
        poses = {f: p for f, by in video.poses.items() if tid in by for p in [by[tid]]}
        poses.update({f: p for (f, t), p in overrides.items() if t == tid and p is not None})
        for f in sorted(poses):
            pose = poses[f]
            if pose.keyframe or (frame_range and not frame_range[0] <= f <= frame_range[1]):
                continue
            auto = pose.auto_joints()
            if not auto.any():
                continue
            acc = np.zeros((pose.num_joints, 2))
            wsum = np.zeros(pose.num_joints)
            for dt in range(-radius, radius + 1):
                q = poses.get(f + dt)
                if q is None or q.num_joints != pose.num_joints:
                    continue
                m = q.labelled() & auto
                w = weights[abs(dt)]
                acc[m] += w * q.xy[m]
                wsum[m] += w
            new = pose.copy()
            new.xy[auto] = acc[auto] / wsum[auto, None]
            if not np.allclose(new.xy[auto], pose.xy[auto]):
                changes.append(PoseChange(video.video_id, f, tid, new))
    return changes
