"""The demo project: the bundled Sports2D clip with both people labelled on every 10th frame
(our own annotation, resources/demo/sports2d_demo_labels.json), so a new user sees auto-fill
at once. Built in a user-writable place; `prepare_demo` builds it when missing and refreshes it
when the labels file changed, unless the user edited it (then it is kept as it is)."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from posewarper_core.demo_clip import DEMO_LABELS, add_labels, load_labels
from posewarper_core.resources import DEMO_DIR
from posewarper_core.skeleton import get_skeleton
from posewarper_core.store import ProjectStore, content_digest

from .opening import video_from_media

LABELS = DEMO_LABELS
# Notes kept in the demo project: what it was built from, and its content as built (so a later
# start-up can tell an untouched demo, safe to replace, from one the user worked on).
LABELS_NOTE = "demo_labels_sha256"
CONTENT_NOTE = "demo_content_sha256"


def default_demo_path() -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "posewarper" / "demo.pwproj"


def labels_hash(path: Path = LABELS) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_demo(target: Path | None = None, labels_path: Path = LABELS) -> Path:
    """Create the demo project at `target` unless it exists; return its path."""
    target = Path(target or default_demo_path())
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _build_into(target, labels_path)
    return target


def prepare_demo(target: Path | None = None, labels_path: Path = LABELS) -> tuple[Path, str]:
    """The demo project to open, and a note for the user ("" when there is nothing to say).

    Missing: built. Built from other labels (an older demo): replaced by the new one if the user
    never changed it; kept as it is if they did (their annotations come first), and the note says
    that a newer demo is available and how to get it.
    """
    target = Path(target or default_demo_path())
    if not target.exists():
        return build_demo(target, labels_path), ""
    _repoint(target, labels_path)
    with ProjectStore.open(target, read_only=True) as current:  # also while this window has it open
        if current.notes.get(LABELS_NOTE) == labels_hash(labels_path):
            return target, ""
    with ProjectStore.open(target) as current:  # the lock: refused while the demo is open elsewhere
        digest = content_digest(current.project)
        if CONTENT_NOTE not in current.notes and digest == _fresh_digest(labels_path):
            # Built from these labels by a version that kept no notes, and untouched: note it now.
            current.set_note(CONTENT_NOTE, digest)
            current.set_note(LABELS_NOTE, labels_hash(labels_path))
            return target, ""
        built_as = current.notes.get(CONTENT_NOTE)
    if built_as is None:
        return target, (f"Your demo project was made by an earlier version and has changes of yours: it is kept "
                        f"as it is. To get the current demo, move or delete {target} and open the demo again.")
    if built_as != digest:
        return target, (f"A newer demo is available. Your edited demo is kept as it is; to get the new one, "
                        f"move or delete {target} and open the demo again.")
    if any(Path(f"{target}{s}").exists() for s in ("-wal", "-shm")):
        return target, ""  # someone reads it right now: replace it another time
    _build_into(target, labels_path)
    return target, "The demo project was updated to the newer demo."


def _repoint(target: Path, labels_path: Path) -> None:
    """Point the demo at this installation's copy of the clip. The project lives in the user's
    data folder and outlives the installation that built it: after a new clone or a move, its
    video path named a file that was gone and the demo opened on blank frames. Only a missing clip
    of the same name is repointed; the labels stay as they are, and an untouched demo stays
    untouched (its content note follows the new path)."""
    clip = (DEMO_DIR / load_labels(labels_path)["video"]).resolve()
    with ProjectStore.open(target, read_only=True) as current:
        stale = [v.video_id for v in current.project.videos.values()
                 if Path(v.source).name == clip.name and Path(v.source) != clip and not Path(v.source).exists()]
    if not stale or not clip.exists():
        return
    with ProjectStore.open(target) as current:
        untouched = current.notes.get(CONTENT_NOTE) == content_digest(current.project)
        for video_id in stale:
            current.update_video(video_id, source=str(clip))
        if untouched:
            current.set_note(CONTENT_NOTE, content_digest(current.project))


def _build_into(target: Path, labels_path: Path) -> None:
    """Build beside `target`, then rename into place: `target` is the old demo or the whole new
    one, never part of one."""
    new = target.with_name(target.stem + ".new" + target.suffix)
    for leftover in (new, Path(f"{new}-wal"), Path(f"{new}-shm")):
        leftover.unlink(missing_ok=True)  # a build of ours that was interrupted
    _build(new, labels_path)
    os.replace(new, target)


def _fresh_digest(labels_path: Path) -> str:
    """The content digest of a demo built now from `labels_path` (built in a scratch folder)."""
    with tempfile.TemporaryDirectory() as scratch:
        _build(Path(scratch) / "demo.pwproj", labels_path)
        with ProjectStore.open(Path(scratch) / "demo.pwproj", read_only=True) as built:
            return built.notes[CONTENT_NOTE]


def _build(target: Path, labels_path: Path) -> None:
    labels = load_labels(labels_path)
    skeleton = get_skeleton(labels["skeleton"])
    video = video_from_media(DEMO_DIR / labels["video"], target)
    video.source = str((DEMO_DIR / labels["video"]).resolve())  # the project lives elsewhere
    video.keyframe_stride = int(labels.get("keyframe_stride", 10))
    video.name = "Sports2D demo"
    add_labels(video, labels, skeleton)
    store = ProjectStore.create(target, skeleton=skeleton, name="demo")
    try:
        store.add_video(video)  # one transaction: the project has all the labels or none
        store.set_note(CONTENT_NOTE, content_digest(store.project))
        store.set_note(LABELS_NOTE, labels_hash(labels_path))
    finally:
        store.close()
