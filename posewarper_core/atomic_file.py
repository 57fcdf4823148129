"""Writing a file whole: the new content goes to a temporary file beside it, which then replaces
it, so a reader, or a crash half-way, sees the old file or the new one, never half of one."""
from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .safe_output import check_not_a_project


@contextmanager
def replacing(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A file object for `path`'s new content, put in place when the block ends without an error
    (and removed when it does not). The new file has the permissions open() would give it (the
    umask's), or those of the file it replaces: tempfile.mkstemp's 0600 made exports and models
    that nobody else on a shared machine could read. A path that is a project or one of its side
    files is refused (safe_output.OutputError) before anything is written."""
    with staged(path, binary) as (out, tmp):
        yield out
    put_in_place(tmp, path)


@contextmanager
def staged(path: str | os.PathLike, binary: bool = False) -> Iterator[tuple[IO, Path]]:
    """replacing() in two steps, for work that writes first and decides later (an export built
    on a worker thread, written when the user has not cancelled): (file object, its temporary
    path) for `path`'s new content, flushed to disk when the block ends; then put_in_place(tmp,
    path) or discard(tmp). Removed if the block fails."""
    path = Path(path)
    check_not_a_project(path)
    try:
        keep_mode = stat.S_IMODE(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        keep_mode = None
    fd, tmp = _create_beside(path)
    try:
        if keep_mode is not None:
            try:
                os.chmod(tmp, keep_mode)
            except OSError:
                pass  # a file system without modes (FAT, some network shares): its default stands
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as out:
            yield out, tmp
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def put_in_place(tmp: Path, path: str | os.PathLike) -> None:
    """Replace `path` by the finished temporary file `tmp` (from staged) in one step."""
    try:
        check_not_a_project(path)  # again: the output may have become one since it was staged
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def discard(tmp: Path) -> None:
    Path(tmp).unlink(missing_ok=True)


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, hidden, uniquely named file in `path`'s folder, opened for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp  # 0666 less the umask, as open() does
        except FileExistsError:
            continue
