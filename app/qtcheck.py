"""Guard against a PySide6 build that drops a reference to None on every call of a Qt method
returning void (PySide6-Essentials 6.12.0 under Python 3.11: the interpreter aborts with
"none_dealloc" after a few thousand calls, e.g. a minute of scrubbing). We pin 6.11.3; if a
leaking build is installed anyway, None is made effectively immortal, as Python 3.12 does."""
from __future__ import annotations

import ctypes
import sys


def none_leaks() -> bool:
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        obj.setObjectName("x")  # a void method
    return sys.getrefcount(None) < before - 50


def apply() -> bool:
    """Returns True if the workaround was needed (and applied)."""
    if sys.version_info >= (3, 12) or not none_leaks():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value = 1 << 60
    print("posewarper-annotate: this PySide6 build leaks references to None; applied a workaround. "
          "Install PySide6-Essentials==6.11.3.", file=sys.stderr)
    return True
