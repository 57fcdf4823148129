"""The commands' progress callbacks: progress(done, total) drawn on a tqdm bar."""
from __future__ import annotations


def bar_progress(bar):
    """A progress(done, total) callback that moves `bar` (a tqdm bar) to `done` of `total`."""

    def progress(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return progress
