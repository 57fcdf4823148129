"""PoseTrack 2018 JSON: one file per video.

Reading:
- Frame order: images sorted by `frame_id` (by `id` where an image has no frame_id). The frame
  index is the image's position in that order: official frame ids are large numbers such as
  10709790000, not indices. Every listed image is a frame, labelled (`is_labeled`) or not.
- Visibility: official files write 0/1, where 1 means "labelled" with no occlusion information;
  such files (no 2 anywhere) import 1 as VISIBLE. Files with a 2 anywhere, and our own exports,
  use COCO's meaning: 1 labelled but occluded, 2 visible.
- A joint with v=0 is not labelled (the official data writes missing joints as 0,0,0). A joint
  with v>0 at exactly (0, 0) is taken as not labelled too, except in files we wrote: annotators
  never click the corner pixel exactly, converters that flag every joint leave missing ones there.
- `file_name` is relative to the file's folder or, as in the official layout
  (posetrack_data/annotations/val/x.json with images/val/x/000000.jpg), to a folder up to three
  levels above it; `Video.source` becomes that folder and every frame must exist there
  (`check_frames=False` skips the look-up, for converting label files without their images).
- Image size: `width`/`height` of the images where given, else read from the first frame.

Writing: every frame is listed (with `is_labeled`), poses carry `track_id`, `bbox`, `bbox_head`
(a pose without one gets a square from head_top and head_bottom, flagged `bbox_head_estimated`),
per-joint confidence in `scores`, and our own fields (`keyframe`, `propagated`, `reviewed`,
`method`, `keypoint_provenance`). With `include_auto=False` (or "none") auto-filled joints are left
out, with "reviewed" those of poses not reviewed; and so are poses left with no joint.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..annotation import FrameRef, Pose, Track, Video
from ..errors import FormatError
from ..skeleton import POSETRACK17, Skeleton
from .common import (
    GENERATOR, MAX_ID, META_KEY, META_VERSION, Entry, ImageEntry, JsonList, PoseFrames, VideoMeta, absolute_source,
    auto_meta,
    category_entry, check_pose, entry_label, frame_paths_root, frames_with_poses, generic_stem_name,
    frame_file_names, load_json, placeholder_file_name, video_size, pose_from_annotation, pose_to_annotation,
    poses_to_export,
    poses_in_memory, read_meta, top_list, video_meta, write_document, write_export,
)

FORMAT = "posetrack18"
PERSON_CATEGORY = 1


# ---------------------------------------------------------------- reading

class _Image(ImageEntry):
    """One checked entry of `images`, with its sequence id and ignore regions."""

    def __init__(self, path: Path, index: int, raw):
        super().__init__(path, index, raw)
        e = self.entry
        vid = e.raw("vid_id", required=False)
        if vid is not None and (isinstance(vid, bool) or not isinstance(vid, (str, int))):
            e.fail(f"'vid_id' must be a string, got {vid!r:.40}")
        self.vid_id = None if vid is None else str(vid)
        e.int("nframes", required=False, minimum=0)
        self.regions = _ignore_regions(e)


def _ignore_regions(e: Entry) -> list[np.ndarray]:
    xs = e.list("ignore_regions_x", required=False) or []
    ys = e.list("ignore_regions_y", required=False) or []
    # A flat list of numbers is one region (some files write a single region that way).
    if xs and not isinstance(xs[0], list):
        xs = [xs]
    if ys and not isinstance(ys[0], list):
        ys = [ys]
    if len(xs) != len(ys):
        e.fail(f"ignore_regions_x has {len(xs)} regions, ignore_regions_y {len(ys)}")
    regions = []
    for r, (x, y) in enumerate(zip(xs, ys)):
        if not isinstance(x, list) or not isinstance(y, list):
            e.fail(f"ignore region {r} must be lists of numbers")
        if len(x) != len(y):
            e.fail(f"ignore region {r} has {len(x)} x and {len(y)} y coordinates")
        pts = [(e.to_number(a, f"ignore_regions_x[{r}]"), e.to_number(b, f"ignore_regions_y[{r}]")) for a, b in zip(x, y)]
        regions.append(np.array(pts, dtype=np.float64).reshape(-1, 2))
    return regions


def read_posetrack18(path: str | os.PathLike, check_frames: bool = True, *, doc=None) -> tuple[Skeleton, Video]:
    """Read one PoseTrack 2018 file (one video). FormatError naming the file and entry if it is bad.
    `doc`: the file's parsed JSON, if the caller has it already."""
    path = Path(path)
    doc = load_json(path) if doc is None else doc
    images_raw = top_list(path, doc, "images")
    meta = read_meta(path, doc, FORMAT)
    vmeta = None
    if meta is not None and meta.get("videos"):
        if len(meta["videos"]) != 1:
            raise FormatError(path, "a PoseTrack file describes one video", f"{META_KEY}.videos")
        vmeta = VideoMeta(path, f"{META_KEY}.videos[0]", meta["videos"][0])
    skeleton, category_ids = category_entry(path, doc, meta, required=False)
    if skeleton is None:
        skeleton, category_ids = POSETRACK17, {PERSON_CATEGORY}
    if not images_raw:
        raise FormatError(path, "lists no images", "images")

    images = [_Image(path, i, raw) for i, raw in enumerate(images_raw)]
    by_id: dict[int, _Image] = {}
    by_order: dict[int, _Image] = {}
    names: dict[str, _Image] = {}
    first = images[0]
    for img in images:
        if img.id in by_id:
            img.entry.fail(f"duplicate image id {img.id} (also {by_id[img.id].entry.label})")
        by_id[img.id] = img
        key = img.frame_id if img.frame_id is not None else img.id
        if key in by_order:
            img.entry.fail(f"duplicate frame_id {key} (also {by_order[key].entry.label})")
        by_order[key] = img
        if img.file_name in names:
            img.entry.fail(f"duplicate file_name {img.file_name!r} (also {names[img.file_name].entry.label})")
        names[img.file_name] = img
        if img.vid_id != first.vid_id:
            img.entry.fail(f"vid_id {img.vid_id!r} differs from {first.vid_id!r} of {first.entry.label}: "
                           "a PoseTrack file holds one video (read it as COCO to split it by vid_id)")
    ordered = [by_order[k] for k in sorted(by_order)]
    frame_of = {img.id: i for i, img in enumerate(ordered)}

    frames: list[FrameRef] | None = [FrameRef(img.file_name, img.id, img.frame_id) for img in ordered]
    if vmeta is not None and not vmeta.frame_files:
        # Exported from a video file: the file names are placeholders; the video is the source.
        source = Path(vmeta.source or path.resolve().parent)
        if check_frames and not source.exists():
            raise FormatError(path, f"the video {str(source)!r} this file was exported from is missing",
                              f"{META_KEY}.videos[0].source")
        frames = None
    else:
        roots = [Path(vmeta.source)] if vmeta is not None and vmeta.source else []
        source = frame_paths_root(path, [img.file_name for img in ordered],
                                  [img.entry.label for img in ordered], roots, check_frames)

    width, height = video_size(
        path, ordered[0].entry.label, (ordered[0].width, ordered[0].height),
        source / ordered[0].file_name if frames is not None else None,
        (vmeta.width, vmeta.height) if vmeta is not None else (None, None), check_frames)
    occlusion_flags = meta is not None or _any_visibility_two(doc.get("annotations"))
    video = Video(
        source=str(source), num_frames=len(ordered), width=width, height=height,
        name=generic_stem_name(path), vid_id=first.vid_id, frames=frames,
        labelled_frames={i for i, img in enumerate(ordered) if img.is_labeled},
        ignore_regions={i: img.regions for i, img in enumerate(ordered) if img.regions},
    )
    _read_annotations(path, doc, skeleton, category_ids, by_id, frame_of, video, occlusion_flags, meta is not None)
    if vmeta is not None:
        vmeta.apply(video)
    return skeleton, video


def _any_visibility_two(annotations) -> bool:
    if not isinstance(annotations, list):
        return False
    for ann in annotations:
        kps = ann.get("keypoints") if isinstance(ann, dict) else None
        if isinstance(kps, list) and any(type(v) in (int, float) and v == 2 for v in kps[2::3]):
            return True
    return False


def _read_annotations(path: Path, doc: dict, skeleton: Skeleton, category_ids: set[int],
                      images: dict, frame_of: dict[int, int], video: Video, occlusion_flags: bool,
                      ours: bool) -> None:
    ann_ids: dict[int, str] = {}
    placed: dict[tuple[int, int], str] = {}
    untracked: list[tuple[int, Pose]] = []
    for i, raw in enumerate(top_list(path, doc, "annotations", required=False)):
        e = Entry(path, entry_label("annotations", i, raw), raw)
        ann_id = e.int("id", required=False)  # not needed here, but when given it must be unique
        if ann_id is not None:
            if ann_id in ann_ids:
                e.fail(f"duplicate annotation id {ann_id} (also {ann_ids[ann_id]})")
            ann_ids[ann_id] = e.label
        image_id = e.int("image_id")
        if image_id not in images:
            e.fail(f"image_id {image_id} is not in images")
        category = e.int("category_id", required=False)
        if category is not None and category not in category_ids:
            e.fail(f"category_id {category} is not a keypoint category of this file")
        img = images[image_id]
        pose = pose_from_annotation(e, skeleton, occlusion_flags, ours)
        check_pose(e, pose, img.width or video.width, img.height or video.height)
        frame = frame_of[image_id]
        track_id = e.int("track_id", required=False, minimum=0)
        if track_id is None:
            untracked.append((frame, pose))
            continue
        if (frame, track_id) in placed:
            e.fail(f"track {track_id} already has a pose in image {image_id} ({placed[frame, track_id]})")
        placed[frame, track_id] = e.label
        video.set_pose(frame, track_id, pose)
    # Annotations without a track id are people we cannot follow: each becomes its own track.
    next_id = max(video.tracks, default=-1) + 1
    for frame, pose in untracked:
        if next_id > MAX_ID:
            raise FormatError(path, f"no track id left for the annotations without 'track_id' (track ids "
                                    f"reach {MAX_ID})", f"frame {frame}")
        video.tracks[next_id] = Track(next_id)
        video.set_pose(frame, next_id, pose)
        next_id += 1


# ---------------------------------------------------------------- writing

def posetrack18_stream(out, skeleton: Skeleton, video: Video, include_auto: bool | str = True, base_dir=None,
                       path: Path | None = None, pose_frames: PoseFrames = poses_in_memory) -> dict:
    """Write the PoseTrack 2018 document for one video to the text file `out`, the poses read
    through `pose_frames` one frame at a time and spooled to disk (common.JsonList), so memory
    does not grow with the poses; returns counts of what it holds."""
    path = Path(path or f"{video.name or 'video'}.json")
    image_root = absolute_source(video, base_dir) if video.frames is not None else None
    files = frame_file_names(video, base_dir)
    vid_id = video.vid_id if video.vid_id is not None else f"{video.video_id:06d}"
    ids = _frame_ids(video, vid_id)
    images, annotations = JsonList(path), JsonList(path)
    counts = {"auto_poses": 0, "left_out_auto": 0, "video_frames": int(video.num_frames)}
    names = skeleton.joints
    head_joints = (names.index("head_top"), names.index("head_bottom")) if {
        "head_top", "head_bottom"} <= set(names) else None
    try:
        for frame, by_track in frames_with_poses(path, video, pose_frames):
            image_id, frame_id = ids[frame]
            written, has_labeled_person = 0, False
            for track_id, pose, keep in poses_to_export(path, video, frame, by_track, skeleton, include_auto, counts):
                ann = {"id": annotations.count + 1, "image_id": image_id, "track_id": int(track_id),
                       "category_id": PERSON_CATEGORY}
                ann.update(pose_to_annotation(pose, keep, estimate_bbox=True, head_joints=head_joints))
                counts["auto_poses"] += ann["propagated"]
                annotations.append(ann)
                written += 1
                has_labeled_person = has_labeled_person or ann["num_keypoints"] > 0
            declared = frame in video.labelled_frames
            regions = video.ignore_regions.get(frame, [])
            image = {
                "file_name": files[frame] if files is not None else placeholder_file_name(video, frame),
                "id": image_id, "frame_id": frame_id, "vid_id": vid_id, "nframes": int(video.num_frames),
                "is_labeled": bool(declared or written),
                "has_labeled_person": has_labeled_person,
                "width": int(video.width), "height": int(video.height),
                "ignore_regions_x": [[float(v) for v in r[:, 0]] for r in regions],
                "ignore_regions_y": [[float(v) for v in r[:, 1]] for r in regions],
            }
            if written and not declared:
                image["is_labeled_declared"] = False  # labelled only because poses were exported
            images.append(image)
        write_document(out, path, [
            ("images", images),
            ("annotations", annotations),
            ("categories", [{"supercategory": "person", "id": PERSON_CATEGORY, "name": "person",
                             "keypoints": list(skeleton.joints), "skeleton": skeleton.coco_skeleton()}]),
            (META_KEY, {
                "format": FORMAT, "format_version": META_VERSION, "generator": _generator(),
                "visibility": "0 not labelled, 1 labelled but occluded, 2 visible",
                "include_auto": auto_meta(include_auto), "skeleton": skeleton.to_dict(),
                "videos": [video_meta(video, base_dir, image_root)],
            }),
        ])
    finally:
        images.close()
        annotations.close()
    return {"format": FORMAT, "videos": 1, "images": images.count, "annotations": annotations.count, **counts}


def _generator() -> str:
    from .. import __version__

    return f"{GENERATOR} {__version__}"


def _frame_ids(video: Video, vid_id: str) -> list[tuple[int, int]]:
    """(image id, frame id) per frame: those of the file the video came from when they are
    complete and in order, else PoseTrack-style ones (1, video number, 4-digit frame)."""
    if video.frames is not None and len(video.frames) == video.num_frames:
        ids = [(f.image_id, f.frame_id if f.frame_id is not None else f.image_id) for f in video.frames]
        image_ids = [i for i, _ in ids]
        order = [k for _, k in ids]
        if (None not in image_ids and None not in order and len(set(image_ids)) == len(ids)
                and all(a < b for a, b in zip(order, order[1:]))):
            return ids
    number = int(vid_id) if vid_id.isdigit() and len(vid_id) < 18 else video.video_id
    base = 10_000_000_000 + (number % 1_000_000) * 10_000
    return [(base + i, base + i) for i in range(video.num_frames)]


def write_posetrack18(path: str | os.PathLike, skeleton: Skeleton, video: Video, include_auto: bool | str = True,
                      base_dir=None) -> dict:
    """Write one video as a PoseTrack 2018 file (atomically). Returns counts of what was written.

    `base_dir` resolves a relative `video.source` (a project's folder).
    """
    path = Path(path)
    summary = write_export(path, lambda out: posetrack18_stream(out, skeleton, video, include_auto, base_dir, path))
    return {"path": str(path), "files": [str(path)], **summary}
