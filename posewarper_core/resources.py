"""Where the files in the repository's resources/ folder are (the app and the core are installed
editable from the repository, so resources/ sits beside the package)."""
from __future__ import annotations

from pathlib import Path

from .errors import ModelError

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_MODEL = RESOURCES / "models" / "posewarper_default.pt"


def default_model_path() -> Path:
    """The shipped PoseWarper model that `posewarper` auto-fill uses unless told otherwise."""
    if not DEFAULT_MODEL.is_file():
        raise ModelError(f"the default model {DEFAULT_MODEL} is missing; pass a model file (--model)")
    return DEFAULT_MODEL
