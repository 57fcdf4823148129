"""Take the README's screenshot: the demo after an auto-fill of the whole video with the default
method (posewarper), frame 65,
the jumper selected, the window filling the screen.

    Xvfb :97 -screen 0 1920x1080x24 &
    DISPLAY=:97 python resources/screenshots/take_screenshot.py resources/screenshots/main-window.png
    Xvfb :98 -screen 0 1366x768x24 &
    DISPLAY=:98 python resources/screenshots/take_screenshot.py resources/screenshots/main-window-1366x768.png

The demo is built in a scratch folder (your own demo project is not touched) and the picture is
taken with imagemagick's `import`, as a user's screenshot tool would see the screen, then
reduced to 256 colours with `convert`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(out: str) -> int:
    scratch = tempfile.mkdtemp(prefix="pw-shot-")
    os.environ["XDG_DATA_HOME"] = os.environ["XDG_CONFIG_HOME"] = scratch  # fresh demo, default settings
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from app.window import MainWindow

    def wait(done=lambda: False, seconds: float = 600.0) -> None:
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    window = MainWindow()
    window.setGeometry(app.primaryScreen().geometry())
    window.show()
    window.open_demo()  # opens on a worker thread
    wait(lambda: window.editor is not None, 120.0)
    from posewarper_core.autofill import DEFAULT_METHOD

    window.fill_panel.method.setCurrentText(DEFAULT_METHOD)
    window.actions["fill_video"].trigger()
    wait(lambda: not window.runner.running)
    window.editor.seek(65)
    window.editor.select_track(1)
    wait(seconds=3.0)  # the exact frame decoded, background work settled
    window.statusBar().clearMessage()
    wait(seconds=0.5)
    subprocess.run(["import", "-window", "root", out], check=True)
    # 256 colours, dithered: under half the bytes, and the README's picture looks the same.
    subprocess.run(["convert", out, "-strip", "-dither", "FloydSteinberg", "-colors", "256", f"PNG8:{out}"], check=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "main-window.png"))
