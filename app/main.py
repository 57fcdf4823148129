"""Start-up of `posewarper-annotate`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posewarper-annotate", description="Annotate human pose in video.")
    parser.add_argument("path", nargs="?", help="video, image folder, PoseTrack18/COCO file or project")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo project")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel("PoseWarper annotator: the window comes with the GUI issue.")
    label.resize(640, 200)
    label.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
