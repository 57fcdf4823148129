"""Thousands of mutated documents (keys deleted, types changed, NaN/inf, huge numbers, wrong lengths,
duplicated entries, truncated text) fed to both importers: nothing escapes but FormatError."""
import copy
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from posewarper_core import POSETRACK17, FormatError, FrameRef, Pose, Provenance, Video
from posewarper_core.formats import import_file, read_coco, read_posetrack18, write_coco, write_posetrack18

JUNK = [None, True, 0, -1, 1.5, -1e9, 10**400, float("nan"), float("inf"), -float("inf"), "", "x", "12",
        [], [1, 2], [None], {}, {"a": 1}, 2, 3, 1e308]


def _paths(node, prefix=()):
    """The key path of every value in the document."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _paths(value, prefix + (key,))


def _at(doc, path):
    """(container, key) for a key path, or None if an earlier mutation removed it."""
    node = doc
    try:
        for key in path[:-1]:
            node = node[key]
        node[path[-1]]
    except (KeyError, IndexError, TypeError):
        return None
    return (node, path[-1]) if isinstance(node, (dict, list)) else None


def mutate(text: str, paths: list[tuple], rng: random.Random):
    doc = json.loads(text)  # a fresh copy of the base
    for _ in range(rng.randint(1, 3)):
        spot = _at(doc, rng.choice(paths))
        if spot is None:
            continue
        container, key = spot
        kind = rng.random()
        if kind < 0.3:
            del container[key]
        elif kind < 0.65:
            container[key] = copy.deepcopy(rng.choice(JUNK))
        elif kind < 0.8 and isinstance(container[key], list):
            values = container[key]
            if values and rng.random() < 0.5:
                values.pop(rng.randrange(len(values)))
            else:
                values.append(copy.deepcopy(rng.choice(values)) if values else 1)
        elif isinstance(container, list):
            container.append(copy.deepcopy(container[key]))  # a duplicate entry (same ids)
        else:
            other = _at(doc, rng.choice(paths))  # a value from elsewhere: right type, wrong place
            if other is not None:
                container[key] = copy.deepcopy(other[0][other[1]])
    return doc


def _sample_video(folder: Path) -> Video:
    video = Video(str(folder), 3, 64, 48, name="clip", video_id=1, vid_id="5",
                  frames=[FrameRef(f"f/{i}.png", 100 + i, 100 + i) for i in range(3)], labelled_frames={0, 1})
    video.ignore_regions[2] = [np.array([[1.0, 1], [9, 1], [9, 9]])]
    for t in (0, 1):
        pose = Pose.manual(np.full((17, 2), 20.0 + t), [2, 1, 0] * 5 + [2, 2], bbox=(1, 2, 30, 30))
        video.set_pose(0, t, pose)
        auto = pose.copy()
        auto.provenance[auto.labelled()] = Provenance.PROPAGATED
        auto.keyframe, auto.method = False, "linear"
        video.set_pose(1, t, auto)
    return video


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """Valid documents of both formats, ours and foreign-style, with their frames on disk."""
    import cv2

    # A RAM folder where there is one: thousands of small writes on a busy disk take seconds.
    ram = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="pw_fuzz_", dir=ram)) if os.access(ram, os.W_OK) else tmp_path_factory.mktemp("fuzz")
    (folder / "f").mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / "f" / f"{i}.png"), np.zeros((48, 64, 3), np.uint8))
    video = _sample_video(folder)
    write_posetrack18(folder / "pt.json", POSETRACK17, video)
    write_coco(folder / "coco.json", POSETRACK17, [video])
    ours_pt = json.loads((folder / "pt.json").read_text())
    ours_coco = json.loads((folder / "coco.json").read_text())
    plain_pt = copy.deepcopy(ours_pt)
    plain_pt.pop("posewarper")
    plain_coco = copy.deepcopy(ours_coco)
    plain_coco.pop("posewarper")
    for img in plain_coco["images"]:
        img.pop("video_id"), img.pop("frame_index")
    docs = {"posetrack18": [ours_pt, plain_pt], "coco": [ours_coco, plain_coco]}
    for fmt, pair in docs.items():  # every base itself imports
        for doc in pair:
            (folder / "check.json").write_text(json.dumps(doc))
            import_file(folder / "check.json", fmt)
    yield folder, docs
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("fmt, reader", [("posetrack18", read_posetrack18), ("coco", read_coco)])
def test_mutated_documents_raise_only_format_error(bases, fmt, reader):
    folder, docs = bases
    rng = random.Random(20261122)
    path = folder / f"mutant_{fmt}.json"
    outcomes = {"read": 0, "FormatError": 0}
    bases = [(json.dumps(doc), list(_paths(doc))) for doc in docs[fmt]]
    for i in range(1500):
        doc = mutate(*rng.choice(bases), rng)
        text = json.dumps(doc)
        if rng.random() < 0.1:
            text = text[: rng.randrange(len(text))]  # truncated JSON
        path.write_text(text)
        for read in (reader, import_file):
            try:
                read(path)
                outcomes["read"] += 1
            except FormatError as exc:
                assert str(path) in str(exc), exc
                outcomes["FormatError"] += 1
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"mutant {i} raised {type(exc).__name__}: {exc}\n{text[:2000]}")
    assert outcomes["read"] > 100 and outcomes["FormatError"] > 900, outcomes
