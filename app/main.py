"""Start-up of `posewarper-annotate`."""
from __future__ import annotations

import argparse
import sys
import traceback


def _install_excepthook(window) -> None:
    """An unexpected error in a slot is reported in a dialog; the GUI keeps running."""
    def hook(exc_type, exc, tb):
        traceback.print_exception(exc_type, exc, tb)
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(window, "Unexpected error",
                             f"{exc_type.__name__}: {exc}\n\nYour work so far is saved in the project.")

    sys.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posewarper-annotate", description="Annotate human pose in video.")
    parser.add_argument("path", nargs="?", help="video, image folder, PoseTrack18/COCO file or project")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo project")
    parser.add_argument("--project", help="where to create the project for a new video (default: asked, "
                        "beside it proposed)")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from . import qtcheck

    qtcheck.apply()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("posewarper")
    app.setApplicationName("posewarper-annotate")

    from .window import MainWindow

    window = MainWindow()
    _install_excepthook(window)
    window.show()
    if args.demo:
        window.open_demo()
    elif args.path:
        window.open_path(args.path, args.project, ask_where=args.project is None)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
