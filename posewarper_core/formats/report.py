"""What an export wrote, in words for the person who asked for it: the file(s), how many frames
and poses, and what was left out and why (from the summary export_project returns)."""
from __future__ import annotations

FORMAT_NAMES = {"posetrack18": "PoseTrack 2018", "coco": "COCO keypoints"}


def count_of(count: int, one: str, many: str | None = None) -> str:
    """'1 joint', '3 joints' (`many` for an irregular plural): a trial read 'Suggested 1 joints'."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def describe_export(summary: dict) -> str:
    """A few lines: where it went, what it holds, what it left out and why."""
    files = summary.get("files") or [summary.get("path", "")]
    fmt = FORMAT_NAMES.get(summary.get("format"), summary.get("format", ""))
    if len(files) == 1:
        lines = [f"Wrote {files[0]} ({fmt})."]
    else:
        lines = [f"Wrote {len(files)} {fmt} files, one per video, in {summary.get('path')}."]

    videos, frames, listed = summary.get("videos", 0), summary.get("video_frames"), summary.get("images", 0)
    poses, auto = summary.get("annotations", 0), summary.get("auto_poses", 0)
    keyframes, reviewed = summary.get("keyframes", 0), summary.get("reviewed_poses", 0)
    where = f"{count_of(videos, 'video')}, {count_of(listed, 'frame')} listed"
    if frames is not None and frames != listed:
        where += f" of {frames}"
    other = poses - keyframes - auto  # not a keyframe, no joint filled: corrected or placed by hand
    lines.append(f"It holds {where}, {count_of(poses, 'pose')}: {count_of(keyframes, 'keyframe')}, "
                 f"{auto} auto-filled ({reviewed} of them reviewed)"
                 # a filled pose whose every joint was corrected (a trial read an unexplained "1 other")
                 + (f", {other} filled and then corrected whole by hand" if other > 0 else "") + ".")
    if summary.get("ignore_regions"):
        lines.append(f"Also {count_of(summary['ignore_regions'], 'ignore region')} (as crowd annotations).")

    left = []
    if frames is not None and listed < frames:
        left.append(f"{count_of(frames - listed, 'frame')} with no pose (a COCO export lists the frames with "
                    "poses; choose every frame when exporting, or `posewarper export --images all`)")
    if summary.get("left_out_auto"):
        if summary.get("auto") == "reviewed":
            left.append(f"{count_of(summary['left_out_auto'], 'auto-filled pose')} not reviewed, as asked (only the filled "
                        "poses you reviewed were written)")
        else:
            left.append(f"{count_of(summary['left_out_auto'], 'auto-filled pose')}, as asked (filled poses left out)")
    if summary.get("left_out_suggested"):
        left.append(f"{count_of(summary['left_out_suggested'], 'pose')} made only of suggested joints not yet accepted "
                    "(A accepts them)")
    if summary.get("suggested_joints_left_out"):
        left.append(f"{count_of(summary['suggested_joints_left_out'], 'suggested joint')} not yet accepted, from poses "
                    "written without them")
    if summary.get("absent_marks"):
        left.append(f"{count_of(summary['absent_marks'], 'not-in-view mark')} (X): a person marked not in view on a "
                    "frame has no annotation there")
    if left:
        lines.append("Left out:")
        lines += [f"  • {item}" for item in left]
    else:
        lines.append("Nothing was left out.")
    if "frame_images" in summary:
        lines.append(f"Frame images written: {summary['frame_images']} (JPEG, where the file names them).")
    return "\n".join(lines)
