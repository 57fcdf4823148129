"""COCO keypoints JSON: images, keypoint annotations (with a `track_id` attribute), categories.

Reading:
- Videos: images are grouped by their `video_id` attribute, else their `vid_id` (PoseTrack
  converted to COCO), else the folder of `file_name`. Frame order within a video: `frame_index`
  (our own exports), else `frame_id`, else the file names in natural order (frame2 before frame10).
- Visibility is COCO's: 0 not labelled, 1 labelled but occluded, 2 visible.
- Crowd annotations (`iscrowd` 1) become ignore regions: their polygons, else their box.
- Annotations without `track_id` each become a track of their own (nothing links them in time).
- Annotations of categories without keypoints are skipped; a category id that is not listed is an error.
- Frames must exist on disk, relative to the file's folder or a folder up to three levels above.

Writing: every frame of every video is an image (with `video_id`, `frame_index`, `is_labeled`),
each pose an annotation with `keypoints`, `num_keypoints`, `bbox` (the pose's box, else the joint
extent grown by 10 %, flagged `bbox_estimated`), `area` (box area), `iscrowd` 0, `track_id`, and
our own fields as in PoseTrack files. Ignore regions are written as crowd annotations, so
COCOeval ignores detections inside them. The file loads with pycocotools and evaluates with
COCOeval(iouType="keypoints") given `params.kpt_oks_sigmas = np.array(skeleton.sigmas)`.
"""
from __future__ import annotations

import datetime
import os
import posixpath
from pathlib import Path

import numpy as np

from ..annotation import FrameRef, Pose, Track, Video
from ..errors import FormatError
from ..skeleton import Skeleton
from .common import (
    GENERATOR, MAX_ID, META_KEY, META_VERSION, Entry, ImageEntry, JsonList, PoseFrames, VideoMeta, absolute_source,
    auto_meta,
    category_entry, check_pose, entry_label, frame_paths_root, frames_with_poses, generic_stem_name,
    frame_file_names, load_json, natural_key, video_size, placeholder_file_name, pose_from_annotation,
    pose_to_annotation, poses_to_export,
    poses_in_memory, read_meta, top_list, video_meta, write_document, write_export,
)

FORMAT = "coco"
PERSON_CATEGORY = 1


# ---------------------------------------------------------------- reading

class _Image(ImageEntry):
    """One checked entry of `images`, with the keys that group images into videos."""

    def __init__(self, path: Path, index: int, raw):
        super().__init__(path, index, raw)
        e = self.entry
        self.frame_index = e.int("frame_index", required=False, minimum=0)
        self.video_key = None
        for key in ("video_id", "vid_id"):
            value = e.raw(key, required=False)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                e.fail(f"'{key}' must be an integer or a string, got {value!r:.40}")
            if isinstance(value, int):
                value = e.to_int(value, key)  # one a project can hold
            self.video_key = (key, value)
            break
        if self.video_key is None:
            self.video_key = ("folder", posixpath.dirname(self.file_name.replace("\\", "/")))
        vid = e.raw("vid_id", required=False)
        self.vid_id = None if vid is None or isinstance(vid, (dict, list, bool)) else str(vid)


def read_coco(path: str | os.PathLike, check_frames: bool = True, *, doc=None) -> tuple[Skeleton, list[Video]]:
    """Read a COCO keypoints file into videos. FormatError naming the file and entry if it is bad.
    `doc`: the file's parsed JSON, if the caller has it already."""
    path = Path(path)
    doc = load_json(path) if doc is None else doc
    images_raw = top_list(path, doc, "images")
    meta = read_meta(path, doc, FORMAT)
    metas: dict[int, VideoMeta] = {}
    for i, raw in enumerate((meta or {}).get("videos") or []):
        vm = VideoMeta(path, f"{META_KEY}.videos[{i}]", raw)
        if vm.video_id is not None:
            metas[vm.video_id] = vm
    skeleton, keypoint_categories = category_entry(path, doc, meta, required=True)
    if skeleton is None:
        raise FormatError(path, "lists no categories", "categories")
    all_categories = {c.get("id") for c in doc["categories"] if isinstance(c, dict)}
    if not images_raw:
        raise FormatError(path, "lists no images", "images")

    images = [_Image(path, i, raw) for i, raw in enumerate(images_raw)]
    by_id: dict[int, _Image] = {}
    groups: dict[tuple, list[_Image]] = {}
    for img in images:
        if img.id in by_id:
            img.entry.fail(f"duplicate image id {img.id} (also {by_id[img.id].entry.label})")
        by_id[img.id] = img
        groups.setdefault(img.video_key, []).append(img)

    videos: list[Video] = []
    frame_of: dict[int, tuple[Video, int, _Image]] = {}
    for number, (key, members) in enumerate(groups.items(), start=1):
        ordered = _order_frames(members)
        vmeta = metas.get(key[1]) if key[0] == "video_id" and isinstance(key[1], int) else None
        video, positions = _make_video(path, key, number, ordered, vmeta, check_frames)
        for i, img in zip(positions, ordered):
            frame_of[img.id] = (video, i, img)
        videos.append((video, vmeta))

    _read_annotations(path, doc, skeleton, keypoint_categories, all_categories, frame_of, ours=meta is not None)
    for video, vmeta in videos:
        if vmeta is not None:
            vmeta.apply(video)
    return skeleton, [v for v, _ in videos]


def _order_frames(members: list[_Image]) -> list[_Image]:
    for attr in ("frame_index", "frame_id"):
        if all(getattr(m, attr) is not None for m in members):
            seen: dict[int, _Image] = {}
            for m in members:
                k = getattr(m, attr)
                if k in seen:
                    m.entry.fail(f"duplicate {attr} {k} in its video (also {seen[k].entry.label})")
                seen[k] = m
            return [seen[k] for k in sorted(seen)]
    names: dict[str, _Image] = {}
    for m in members:
        if m.file_name in names:
            m.entry.fail(f"duplicate file_name {m.file_name!r} (also {names[m.file_name].entry.label})")
        names[m.file_name] = m
    return [names[n] for n in sorted(names, key=natural_key)]


def _make_video(path: Path, key: tuple, number: int, ordered: list[_Image], vmeta: VideoMeta | None,
                check_frames: bool) -> Video:
    first = ordered[0]
    frames: list[FrameRef] | None = [FrameRef(m.file_name, m.id, m.frame_id) for m in ordered]
    if vmeta is not None and not vmeta.frame_files:
        source = Path(vmeta.source or path.resolve().parent)
        if check_frames and not source.exists():
            raise FormatError(path, f"the video {str(source)!r} this file was exported from is missing",
                              vmeta.entry.label + ".source")
        frames = None
    else:
        roots = [Path(vmeta.source)] if vmeta is not None and vmeta.source else []
        source = frame_paths_root(path, [m.file_name for m in ordered], [m.entry.label for m in ordered],
                                  roots, check_frames)
    width, height = video_size(
        path, first.entry.label, (first.width, first.height),
        source / first.file_name if frames is not None else None,
        (vmeta.width, vmeta.height) if vmeta is not None else (None, None), check_frames)
    if key[0] == "folder":
        name = posixpath.basename(key[1]) or generic_stem_name(path)
    else:
        name = first.vid_id or f"{generic_stem_name(path)}_{key[1]}"
    video_id = key[1] if key[0] == "video_id" and isinstance(key[1], int) and key[1] > 0 else number
    positions = _frame_positions(ordered, vmeta, frames is None)
    return Video(
        source=str(source), num_frames=len(ordered) if frames is not None else vmeta.num_frames or len(ordered),
        width=width, height=height, name=name, video_id=video_id, vid_id=first.vid_id, frames=frames,
        labelled_frames={f for f, m in zip(positions, ordered) if m.is_labeled},
    ), positions


def _frame_positions(ordered: list[_Image], vmeta: VideoMeta | None, video_file: bool) -> list[int]:
    """The frame of each image: its place in the list, or, for a video file exported listing only
    some of its frames (our COCO export's default), its frame_index among the num_frames our
    metadata records, so every pose lands on the frame of the video it was made on."""
    if not video_file or vmeta is None or not vmeta.num_frames:
        return list(range(len(ordered)))
    indexes = [m.frame_index for m in ordered]
    if None in indexes or max(indexes) >= vmeta.num_frames:
        bad = next(m for m in ordered if m.frame_index is None or m.frame_index >= vmeta.num_frames)
        bad.entry.fail(f"frame_index {bad.frame_index} does not fit the video's {vmeta.num_frames} frames "
                       f"({vmeta.entry.label}.num_frames)")
    return indexes


def _read_annotations(path: Path, doc: dict, skeleton: Skeleton, keypoint_categories: set[int],
                      all_categories: set, frame_of: dict, ours: bool) -> None:
    ann_ids: dict[int, str] = {}
    placed: dict[tuple[int, int, int], str] = {}
    untracked: list[tuple[Video, int, Pose]] = []
    for i, raw in enumerate(top_list(path, doc, "annotations", required=False)):
        e = Entry(path, entry_label("annotations", i, raw), raw)
        ann_id = e.int("id", required=False)  # not needed here, but when given it must be unique
        if ann_id is not None:
            if ann_id in ann_ids:
                e.fail(f"duplicate annotation id {ann_id} (also {ann_ids[ann_id]})")
            ann_ids[ann_id] = e.label
        image_id = e.int("image_id")
        if image_id not in frame_of:
            e.fail(f"image_id {image_id} is not in images")
        category = e.int("category_id")
        if category not in all_categories:
            e.fail(f"category_id {category} is not in categories")
        if category not in keypoint_categories:
            continue
        video, frame, img = frame_of[image_id]
        if e.boolean("iscrowd", False):
            video.ignore_regions.setdefault(frame, []).extend(_crowd_regions(e))
            continue
        pose = pose_from_annotation(e, skeleton, occlusion_flags=True, ours=ours)
        check_pose(e, pose, img.width or video.width, img.height or video.height)
        track_id = e.int("track_id", required=False, minimum=0)
        if track_id is None:
            untracked.append((video, frame, pose))
            continue
        if (id(video), frame, track_id) in placed:
            e.fail(f"track {track_id} already has a pose in image {image_id} ({placed[id(video), frame, track_id]})")
        placed[id(video), frame, track_id] = e.label
        video.set_pose(frame, track_id, pose)
    # Without a track id nothing links a person across frames: each pose is its own track.
    next_ids: dict[int, int] = {}
    for video, frame, pose in untracked:
        tid = next_ids.get(id(video), max(video.tracks, default=-1) + 1)
        if tid > MAX_ID:
            raise FormatError(path, f"no track id left for the annotations without 'track_id' (track ids "
                                    f"reach {MAX_ID})", f"video {video.name}, frame {frame}")
        video.tracks[tid] = Track(tid)
        video.set_pose(frame, tid, pose)
        next_ids[id(video)] = tid + 1


def _crowd_regions(e: Entry) -> list[np.ndarray]:
    seg = e.raw("segmentation", required=False)
    if isinstance(seg, list) and seg:
        regions = []
        for r, poly in enumerate(seg):
            if not isinstance(poly, list) or len(poly) % 2:
                e.fail(f"segmentation[{r}] must be a list of x, y numbers")
            pts = [e.to_number(v, f"segmentation[{r}][{k}]") for k, v in enumerate(poly)]
            regions.append(np.array(pts, dtype=np.float64).reshape(-1, 2))
        return regions
    box = e.box("bbox")
    if box is None:
        e.fail("a crowd annotation needs a polygon segmentation or a bbox")
    x, y, w, h = box
    return [np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)]


# ---------------------------------------------------------------- writing

IMAGES = ("with-poses", "all")  # which frames a COCO export lists as images


def coco_stream(out, skeleton: Skeleton, videos: list[Video], include_auto: bool | str = True, base_dir=None,
                path: Path | None = None, pose_frames: PoseFrames = poses_in_memory,
                images: str = "all") -> dict:
    """Write the COCO keypoints document for the videos to the text file `out`, the poses read
    through `pose_frames` one frame at a time and the annotations spooled to disk (common.JsonList),
    so memory does not grow with the poses; returns counts of what it holds. images="all" lists
    every frame as an image; "with-poses" only those with an annotation (a pose or an ignore
    region), as a training set needs: a long video is mostly frames nobody labelled (a video with
    none lists every frame, so that the file still describes it)."""
    path = Path(path or "annotations.json")
    if images not in IMAGES:
        raise FormatError(path, f"which images: {images!r}; choose from {', '.join(IMAGES)}")
    ids = [v.video_id for v in videos]
    file_video_ids = ids if len(set(ids)) == len(ids) and min(ids, default=1) > 0 else list(range(1, len(videos) + 1))
    image_ids = _image_ids(videos)
    image_list, annotations, metas = JsonList(path), JsonList(path), []
    counts = {"auto_poses": 0, "left_out_auto": 0, "ignore_regions": 0,
              "video_frames": sum(int(v.num_frames) for v in videos)}
    poses_written = 0
    listed_frames: dict[int, list[int]] = {}  # per project video, the frames `images` names
    try:
        for video, vid, frame_ids in zip(videos, file_video_ids, image_ids):
            image_root = absolute_source(video, base_dir) if video.frames is not None else None
            files = frame_file_names(video, base_dir)
            listed = image_list.count
            named = listed_frames.setdefault(int(video.video_id), [])
            for frame, by_track in frames_with_poses(path, video, pose_frames):
                image_id = frame_ids[frame]
                written = 0
                for track_id, pose, keep in poses_to_export(path, video, frame, by_track, skeleton, include_auto,
                                                            counts):
                    ann = {"id": annotations.count + 1, "image_id": image_id, "category_id": PERSON_CATEGORY,
                           "track_id": int(track_id), "iscrowd": 0, "segmentation": []}
                    ann.update(pose_to_annotation(pose, keep, estimate_bbox=True))
                    ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
                    counts["auto_poses"] += ann["propagated"]
                    annotations.append(ann)
                    written += 1
                regions = video.ignore_regions.get(frame, [])
                if regions:
                    annotations.append(_crowd_annotation(annotations.count + 1, image_id, regions, skeleton))
                    counts["ignore_regions"] += len(regions)
                poses_written += written
                if images == "with-poses" and not (written or regions):
                    continue
                image_list.append(_image_entry(video, files, vid, frame, image_id, written))
                named.append(frame)
            if images == "with-poses" and image_list.count == listed:
                # A video nobody is labelled in yet: its frames are listed all the same, or the
                # file would not describe it at all (and no reader, ours included, could open it).
                for frame in range(video.num_frames):
                    image_list.append(_image_entry(video, files, vid, frame, frame_ids[frame], 0))
                named[:] = range(video.num_frames)
            meta = video_meta(video, base_dir, image_root)
            meta["video_id"] = int(vid)
            metas.append(meta)
        write_document(out, path, [
            ("info", {"description": f"exported by {GENERATOR}", "version": "1.0",
                      "date_created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}),
            ("licenses", []),
            ("images", image_list),
            ("annotations", annotations),
            ("categories", [{"supercategory": "person", "id": PERSON_CATEGORY, "name": "person",
                             "keypoints": list(skeleton.joints), "skeleton": skeleton.coco_skeleton()}]),
            (META_KEY, {
                "format": FORMAT, "format_version": META_VERSION, "generator": GENERATOR,
                "visibility": "0 not labelled, 1 labelled but occluded, 2 visible",
                "include_auto": auto_meta(include_auto), "skeleton": skeleton.to_dict(), "videos": metas,
            }),
        ])
    finally:
        image_list.close()
        annotations.close()
    return {"format": FORMAT, "videos": len(videos), "images": image_list.count, "annotations": poses_written,
            "listed_frames": listed_frames, **counts}


def _image_entry(video: Video, files: list[str] | None, vid: int, frame: int, image_id: int, written: int) -> dict:
    """The `images` entry of one frame; `files`: the frames' file names (frame_file_names);
    `written`: how many poses the export gives it."""
    declared = frame in video.labelled_frames
    ref = video.frames[frame] if video.frames is not None else None
    image = {
        "id": image_id,
        "file_name": files[frame] if files is not None else placeholder_file_name(video, frame),
        "width": int(video.width), "height": int(video.height),
        "video_id": int(vid), "frame_index": frame, "nframes": int(video.num_frames),
        "is_labeled": bool(declared or written),
    }
    if ref is not None and ref.frame_id is not None:
        image["frame_id"] = int(ref.frame_id)
    if video.vid_id is not None:
        image["vid_id"] = video.vid_id
    if written and not declared:
        image["is_labeled_declared"] = False
    return image


def _image_ids(videos: list[Video]) -> list[list[int]]:
    """Per video, its frames' image ids: the imported ones where complete and not clashing with
    an earlier video's, else new ones above every id in use."""
    used: set[int] = set()
    chosen: list[list[int] | None] = []
    for video in videos:
        ids = [f.image_id for f in video.frames] if video.frames is not None else []
        if (len(ids) == video.num_frames and None not in ids and len(set(ids)) == len(ids)
                and not used.intersection(ids)):
            used.update(ids)
            chosen.append(ids)
        else:
            chosen.append(None)
    next_id = max(used, default=0) + 1
    if next_id + sum(v.num_frames for v, ids in zip(videos, chosen) if ids is None) > MAX_ID:
        chosen, next_id = [None] * len(videos), 1  # the files' ids leave no room: number them all anew
    out = []
    for video, ids in zip(videos, chosen):
        if ids is None:
            ids = list(range(next_id, next_id + video.num_frames))
            next_id += video.num_frames
        out.append(ids)
    return out


def _crowd_annotation(ann_id: int, image_id: int, regions: list[np.ndarray], skeleton: Skeleton) -> dict:
    pts = np.concatenate([r for r in regions if len(r)]) if any(len(r) for r in regions) else np.zeros((1, 2))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    area = sum(_polygon_area(r) for r in regions)
    return {
        "id": ann_id, "image_id": image_id, "category_id": PERSON_CATEGORY, "iscrowd": 1,
        "ignore_region": True,
        "segmentation": [[float(v) for v in r.reshape(-1)] for r in regions],
        "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])],
        "area": float(area), "keypoints": [0] * (3 * skeleton.num_joints), "num_keypoints": 0,
    }


def _polygon_area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def write_coco(path: str | os.PathLike, skeleton: Skeleton, videos: list[Video], include_auto: bool | str = True,
               base_dir=None, images: str = "all") -> dict:
    """Write videos as one COCO keypoints file (atomically). Returns counts of what was written."""
    path = Path(path)
    summary = write_export(path, lambda out: coco_stream(out, skeleton, list(videos), include_auto, base_dir, path,
                                                        images=images))
    return {"path": str(path), "files": [str(path)], **summary}
