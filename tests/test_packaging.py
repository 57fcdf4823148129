"""An installed copy (a wheel, not the editable checkout) has everything it needs: every package,
the default model, the demo clip with its licence."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for top in ("app", "posewarper_core")
               for p in (REPO / top).rglob("__init__.py")}
    resources = {p for p in listed if p.startswith("posewarper_core._resources")}
    assert listed - resources == on_disk
    assert resources == {f"posewarper_core._resources.{d}" for d in ("demo", "models")}


def test_a_wheel_installed_elsewhere_finds_the_model_and_the_demo(tmp_path):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
                   check=True, cwd=tmp_path, capture_output=True)
    (wheel,) = wheels.glob("posewarper_annotate-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    probe = f"""
import sys
sys.path.insert(0, {str(site)!r})
from pathlib import Path
import posewarper_core, app.demo
from posewarper_core.resources import DEMO_DIR, default_model_path
from posewarper_core.nets.matcher import read_model_file
site = Path({str(site)!r})
assert Path(posewarper_core.__file__).is_relative_to(site), posewarper_core.__file__
assert default_model_path().is_relative_to(site) and read_model_file(default_model_path())["config"]
assert app.demo.LABELS.is_file() and app.demo.LABELS.is_relative_to(site)
assert (DEMO_DIR / "sports2d_demo.mp4").is_file() and (DEMO_DIR / "sports2d_demo.LICENSE").is_file()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
