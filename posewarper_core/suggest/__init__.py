"""Suggestions for a new keyframe: the person's pose carried from the nearest labelled keyframe by
dense flow, and BlazePose on a crop around the person, chosen per joint (suggest.py).

    suggester = Suggester(skeleton)                 # BlazePose when ai-edge-litert is installed
    s = suggester.suggest(video, frames, frame, track_id)
    s.pose       # the suggested joints (Provenance.SUGGESTED), or None with s.message saying why
"""
from .blazepose import BlazePose, Roi, runtime_missing
from .suggest import Suggester, Suggestion

__all__ = ["BlazePose", "Roi", "Suggester", "Suggestion", "runtime_missing"]
