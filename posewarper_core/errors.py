"""The library's error types. Every error a user can cause names the file and the entry."""
from __future__ import annotations


class PoseWarperError(Exception):
    """Base class: a problem the user can act on (bad input, missing file, busy project)."""


class FormatError(PoseWarperError):
    """An annotation file could not be read or written. Names the file and the entry."""

    def __init__(self, path, message: str, entry: str | None = None):
        self.path = str(path)
        self.entry = entry
        self.detail = message
        where = f"{self.path}" + (f", {entry}" if entry else "")
        super().__init__(f"{where}: {message}")


class VideoError(PoseWarperError):
    """A video or image folder could not be opened or a frame could not be read."""


class ProjectError(PoseWarperError):
    """The project store refused an operation (locked, newer schema, unknown id...)."""


class ModelError(PoseWarperError):
    """A model file is missing, unreadable or does not match the configuration."""


class Cancelled(PoseWarperError):
    """Long work stopped because the caller asked it to."""


class OutputError(PoseWarperError):
    """An output path was refused: it is a project (or one of its side files), or it would write
    outside the folder the user chose."""
