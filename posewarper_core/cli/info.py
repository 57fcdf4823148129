"""`posewarper info PATH`: what a video, image folder, annotation file or project holds.

    posewarper info clip.mp4                 frames, size, fps, duration
    posewarper info frames/                  the same for a folder of images
    posewarper info posetrack18.json         per video: frames (and whether they are on disk),
                                             tracks, poses, keyframes per track, auto-filled counts
    posewarper info match.pwproj             the same for every video of a project (read only:
                                             works while the app has the project open), and
                                             the "not in view" marks (X in the app) apart
    posewarper info match.pwproj --json      as JSON, for scripts
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..annotation import Provenance, Video, is_labelled_keyframe, suggestion_only
from ..safe_output import SQLITE_HEADER


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="what a video, image folder, PoseTrack/COCO file or project holds",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path, help="video file, image folder, .json annotation file or .pwproj project")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)


def run(args) -> int:
    path: Path = args.path
    if is_project_file(path):
        info = project_info(path)
    elif path.is_file() and path.suffix.lower() == ".json":
        info = annotation_file_info(path)
    else:
        info = media_info(path)
    print(json.dumps(info, indent=2) if args.json else render(info))
    return 0


def is_project_file(path: Path) -> bool:
    if path.suffix.lower() == ".pwproj":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_HEADER
    except OSError:
        return False


def media_info(path: Path) -> dict:
    """Frames, size and rate of a video file or image folder (VideoError if it cannot be opened)."""
    from ..video import open_video

    with open_video(path) as source:
        stamps = source.timestamps()
        duration = None
        if len(stamps) and np.isfinite(stamps[-1]) and source.fps:
            duration = float(stamps[-1] - stamps[0]) + 1.0 / source.fps  # the last frame lasts too
        return {"kind": "image folder" if path.is_dir() else "video", "path": str(path.resolve()),
                "frames": source.num_frames, "width": source.width, "height": source.height,
                "fps": source.fps, "duration_s": duration}


def annotation_file_info(path: Path) -> dict:
    """Summary of a PoseTrack/COCO file; reads it even when its frames are not on disk, and says so."""
    from ..formats import detect_format, import_file, load_json
    from ..formats.common import is_file

    doc = load_json(path)
    fmt = detect_format(path, doc)
    skeleton, videos = import_file(path, fmt, check_frames=False, doc=doc)
    summaries = []
    for video in videos:
        s = video_summary(video)
        if video.frames is not None:
            s["frames_on_disk"] = sum(is_file(Path(video.source) / f.file_name) for f in video.frames)
        summaries.append(s)
    return {"kind": f"{fmt} file", "path": str(path.resolve()), "skeleton": skeleton.name,
            "joints": skeleton.num_joints, "videos": summaries}


def project_info(path: Path) -> dict:
    from .. import fillrecord
    from ..project_snapshot import ProjectSnapshot

    # Read-only (works while the app has the project open), the poses streamed: bounded memory.
    with ProjectSnapshot(path) as snap:
        project = snap.project
        videos = []
        for k in sorted(project.videos):
            video = project.videos[k]
            summary = video_summary(video, snap.pose_frames)
            rec = fillrecord.interrupted(snap.notes, k)
            summary["interrupted_fill"] = fillrecord.describe(video, rec, snap.pose_frames(video)) if rec else None
            videos.append(summary)
        return {"kind": "project", "path": str(snap.path), "name": project.name, "skeleton": project.skeleton.name,
                "joints": project.skeleton.num_joints, "videos": videos}


def video_summary(video: Video, pose_frames=None) -> dict:
    """Counts of what is labelled in one video, in total and per track, the poses read one frame
    at a time through `pose_frames` (default: the Video's own)."""
    from ..formats.common import poses_in_memory

    def track_counts():
        return {"poses": 0, "keyframes": 0, "not_in_view_marks": 0, "auto_filled": 0, "reviewed": 0, "corrected": 0,
                "first_frame": None, "last_frame": None}

    per_track = {t: track_counts() for t in video.tracks}
    totals = {"frames_with_poses": 0, "poses": 0, "keyframes": 0, "not_in_view_marks": 0, "auto_filled_poses": 0,
              "auto_filled_joints": 0,
              "reviewed_poses": 0, "corrected_joints": 0, "suggested_only": 0}
    for frame, by_track in (pose_frames or poses_in_memory)(video):
        totals["frames_with_poses"] += 1
        for track_id, pose in by_track.items():
            auto = int(pose.auto_joints().sum())
            corrected = int((pose.provenance == Provenance.CORRECTED).sum())
            # only suggestions, none accepted yet: not a label (exports leave it out)
            suggested_only = suggestion_only(pose)
            keyframe = is_labelled_keyframe(pose) and not suggested_only
            mark = bool(pose.is_absent_mark())  # counted apart: a keyframe slot done, no label
            totals["suggested_only"] += suggested_only
            t = per_track.setdefault(track_id, track_counts())
            t["poses"] += 1
            t["keyframes"] += keyframe
            t["not_in_view_marks"] += mark
            filled = auto > 0 and not pose.keyframe  # a keyframe keeping some filled joints is a keyframe
            t["auto_filled"] += filled
            t["reviewed"] += bool(pose.reviewed)
            t["corrected"] += corrected > 0 and not pose.keyframe
            t["first_frame"] = frame if t["first_frame"] is None else min(t["first_frame"], frame)
            t["last_frame"] = frame if t["last_frame"] is None else max(t["last_frame"], frame)
            totals["poses"] += 1
            totals["keyframes"] += keyframe
            totals["not_in_view_marks"] += mark
            totals["auto_filled_poses"] += filled
            totals["auto_filled_joints"] += auto
            totals["reviewed_poses"] += bool(pose.reviewed)
            totals["corrected_joints"] += corrected
    tracks = [{"track_id": track_id, "name": video.tracks[track_id].name if track_id in video.tracks else "",
               **per_track[track_id]} for track_id in sorted(per_track)]
    return {
        "video_id": video.video_id, "name": video.name, "source": video.source, "frames": video.num_frames,
        "width": video.width, "height": video.height, "fps": video.fps, "keyframe_stride": video.keyframe_stride,
        "labelled_frames": len(video.labelled_frames), "frames_with_poses": totals["frames_with_poses"],
        "frames_with_ignore_regions": len(video.ignore_regions),
        "tracks": len(video.tracks), "poses": totals["poses"],
        "keyframes": totals["keyframes"],
        "not_in_view_marks": totals["not_in_view_marks"],
        "auto_filled_poses": totals["auto_filled_poses"],
        "auto_filled_joints": totals["auto_filled_joints"],
        "reviewed_poses": totals["reviewed_poses"],
        "suggested_only_poses": totals["suggested_only"],
        "corrected_joints": totals["corrected_joints"],
        "per_track": tracks,
    }


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def render(info: dict) -> str:
    """The text `posewarper info` prints."""
    if info["kind"] in ("video", "image folder"):
        fps = f"{info['fps']:.3f} fps" if info["fps"] else "fps unknown"
        duration = f", {info['duration_s']:.2f} s" if info.get("duration_s") else ""
        return (f"{info['kind']}  {info['path']}\n"
                f"  {info['frames']} frames, {info['width']}x{info['height']}, {fps}{duration}")
    head = info["kind"] + (f" {info['name']!r}" if info.get("name") else "")
    lines = [f"{head}  {info['path']}",
             f"  skeleton {info['skeleton']} ({info['joints']} joints), {len(info['videos'])} video(s)"]
    for v in info["videos"]:
        fps = f"{v['fps']:g} fps" if v["fps"] else "fps unknown"
        lines.append(f"video {v['video_id']}  {v['name'] or '(unnamed)'}")
        lines.append(f"  {v['frames']} frames, {v['width']}x{v['height']}, {fps}, keyframe every {v['keyframe_stride']}")
        on_disk = f" ({v['frames_on_disk']} of {v['frames']} frames on disk)" if "frames_on_disk" in v else ""
        lines.append(f"  source {v['source']}{on_disk}")
        people = _count(v["tracks"], "person", "people")
        lines.append(f"  {v['frames_with_poses']} of {v['frames']} frames have a pose: {v['poses']} poses of {people}")
        marks = f", {_count(v['not_in_view_marks'], 'not-in-view mark')}" if v.get("not_in_view_marks") else ""
        lines.append(f"  {v['keyframes']} keyframes (labelled){marks}, {v['auto_filled_poses']} filled by auto-fill "
                     f"({v['reviewed_poses']} of them reviewed), {_count(v['corrected_joints'], 'joint')} corrected")
        if v.get("suggested_only_poses"):
            lines.append(f"  {_count(v['suggested_only_poses'], 'pose')} of suggested joints only, not accepted yet "
                         "(exports leave them out)")
        if v["labelled_frames"]:  # is_labeled of the file it came from: says nothing in a project made here
            lines.append(f"  {_count(v['labelled_frames'], 'frame')} marked labelled (is_labeled) in the file "
                         "it came from")
        if v["frames_with_ignore_regions"]:
            lines.append(f"  {_count(v['frames_with_ignore_regions'], 'frame')} with ignore regions")
        if v.get("interrupted_fill"):
            lines.append(f"  ! {v['interrupted_fill']}; finish it in the app (it offers to) or with "
                         "`posewarper fill`")
        if v["per_track"]:
            with_marks = bool(v.get("not_in_view_marks"))  # the column only where there are marks
            mark_head = f" {'not in view':>11}" if with_marks else ""
            lines.append(f"  {'person':>7} {'keyframes':>9}{mark_head} {'filled':>7} {'reviewed':>8} "
                         f"{'corrected':>9}  {'frames':<9} name")
            for t in v["per_track"]:
                span = f"{t['first_frame']}-{t['last_frame']}" if t["poses"] else "-"
                marks = f" {t['not_in_view_marks']:>11}" if with_marks else ""
                lines.append(f"  {t['track_id']:>7} {t['keyframes']:>9}{marks} {t['auto_filled']:>7} "
                             f"{t['reviewed']:>8} {t['corrected']:>9}  {span:<9} {t['name']}".rstrip())
            lines.append("  (filled: poses auto-fill wrote; reviewed: of those, accepted as they are; corrected: "
                         "filled poses with a joint moved by hand)")
    return "\n".join(lines)
