"""Where the tool may write. Every file it writes goes through atomic_file.replacing, which asks
here first: never over a project file or one of its side files (an export or a model written
"-o match.pwproj" would destroy the annotations), and never outside the folder the user chose."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import OutputError
from .store_schema import APPLICATION_ID

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal", ".lock")  # SQLite's files beside a project, and our lock


def is_project_file(path: str | os.PathLike) -> bool:
    """True if `path` (through any symlink) is a PoseWarper project: an SQLite file whose header
    carries our application id (bytes 68..71, big-endian)."""
    try:
        with open(path, "rb") as f:
            header = f.read(72)
    except OSError:  # missing, a folder, unreadable: not a project we could destroy by writing
        return False
    return (len(header) == 72 and header.startswith(SQLITE_HEADER)
            and int.from_bytes(header[68:72], "big") == APPLICATION_ID)


def check_not_a_project(path: str | os.PathLike, what: str = "output") -> None:
    """OutputError if writing `path` would replace a project or one of its side files
    ("<project>-wal", "-shm", "-journal", ".lock"), whatever name or symlink leads to it."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    for candidate in {path, real}:
        if is_project_file(candidate):
            raise OutputError(f"{path}: the {what} would replace a PoseWarper project"
                              f"{'' if candidate == path else f' ({real})'}: choose another file name")
        for suffix in SIDE_FILES:
            if candidate.name.endswith(suffix) and is_project_file(candidate.with_name(candidate.name[:-len(suffix)])):
                project = candidate.with_name(candidate.name[:-len(suffix)])
                raise OutputError(f"{path}: the {what} would replace a side file of the project {project}: "
                                  "choose another file name")


def path_inside(root: str | os.PathLike, relative: str) -> Path:
    """`root` joined with `relative` (a "/"-separated name from a document, e.g. an export's
    image file name), refused (OutputError) unless it stays inside `root`: no absolute name, no
    "..", and no symlink on the way below `root` (it could lead anywhere)."""
    root = Path(root)
    parts = relative.replace("\\", "/").split("/")
    if not relative or relative.startswith("/") or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
        raise OutputError(f"{relative!r}: a file name that would be written outside {root} (absolute, "
                          "empty or with '..'); refused")
    target = root
    for part in parts:
        target = target / part
        if target.is_symlink():
            raise OutputError(f"{target}: a symbolic link inside the output folder {root}; it is not followed: "
                              "remove it or write to another folder")
    return target


def why_not_written(path: str | os.PathLike, exc: OSError) -> str:
    """What to tell the user when writing `path` failed with `exc`: "cannot write: ...", naming
    the part of the path that is a file where a folder must be (mkdir says only "File exists")."""
    for parent in Path(path).parents:
        if parent.exists():
            if not parent.is_dir():
                return f"cannot write: {parent} is a file, not a folder"
            break
    return f"cannot write: {exc.strerror or exc}"
