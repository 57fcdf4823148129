import os

# Tests run on the CPU with one thread (faster than two on these machines) and without a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pathlib

import pytest

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> pathlib.Path:
    """The research data beside the repository (never copied into it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not there")
    return SHARED_DATA


# --- the GUI tests' main window ---------------------------------------------------------------

@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """The real main window at 1100x700 (offscreen), with its own settings and demo folder.
    Errors go to the status bar and `last_error` instead of modal boxes (`quiet`)."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("POSEWARPER_PROXY_DIR", str(tmp_path / "proxies"))
    from app.window import MainWindow

    w = MainWindow()
    w.quiet = True
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def open_in(qtbot):
    """open_in(window, path, project=None): open as the user does (on the window's worker
    thread) and wait until the project is shown. open_in(window, demo=True) opens the demo."""

    def open_and_wait(w, path=None, project=None, demo=False, timeout=60000):
        ended = []
        w.projectOpened.connect(lambda p: ended.append(("opened", p)))
        w.openFailed.connect(lambda message: ended.append(("failed", message)))
        started = w.open_demo() if demo else w.open_path(path, project_path=project)
        assert started, getattr(w, "last_error", "nothing started")
        qtbot.waitUntil(lambda: bool(ended), timeout=timeout)
        assert ended[0][0] == "opened", ended[0][1]
        return w.store

    return open_and_wait
