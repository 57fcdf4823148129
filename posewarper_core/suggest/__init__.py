"""Suggestions for a new keyframe: the person's pose carried from the nearest labelled keyframe by
dense flow, and BlazePose on a crop around the person, chosen per joint (suggest.py).

    suggester = Suggester(skeleton)                 # BlazePose when ai-edge-litert is installed
    s = suggester.suggest(video, frames, frame, track_id)
    s.pose       # the suggested joints (Provenance.SUGGESTED), or None with s.message saying why
    poses, message = detect_people(suggester, frames, frame)   # a frame nobody is labelled in
    template.from_keyframe(video, track_id, frame, at=(x, y)) / template.average(video, skeleton, at)
"""
from .blazepose import BlazePose, Roi, runtime_missing
from .suggest import Suggester, Suggestion, detect_people
from . import template

__all__ = ["BlazePose", "Roi", "Suggester", "Suggestion", "detect_people", "runtime_missing", "template"]
