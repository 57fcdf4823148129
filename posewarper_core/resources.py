"""Where the files of the repository's resources/ folder are: inside the package as
posewarper_core/_resources when installed from a wheel (pyproject.toml puts them there), beside
it in a checkout (the README's editable install)."""
from __future__ import annotations

from pathlib import Path

from .errors import ModelError

_INSTALLED = Path(__file__).resolve().parent / "_resources"
RESOURCES = _INSTALLED if _INSTALLED.is_dir() else Path(__file__).resolve().parent.parent / "resources"
DEFAULT_MODEL = RESOURCES / "models" / "posewarper_default.pt"
DEMO_DIR = RESOURCES / "demo"


def default_model_path() -> Path:
    """The shipped PoseWarper model that `posewarper` auto-fill uses unless told otherwise."""
    if not DEFAULT_MODEL.is_file():
        raise ModelError(f"the default model {DEFAULT_MODEL} is missing; pass a model file (--model)")
    return DEFAULT_MODEL
