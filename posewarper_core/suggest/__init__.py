"""Suggestions for a new keyframe: the person's pose carried from the nearest labelled keyframe by
dense flow, and BlazePose on a crop around the person, chosen per joint (suggest.py).

    suggester = Suggester(skeleton)                 # BlazePose when ai-edge-litert is installed
    s = suggester.suggest(video, frames, frame, track_id)
    s.pose       # the suggested joints (Provenance.SUGGESTED), or None with s.message saying why
    by_track = suggester.suggest_frame(video, frames, frame)   # everyone, one flow chain per keyframe
    pose = place_suggestion(video.pose(frame, tid), s.pose)      # never over a placed or sure joint
    pose = accept(pose)                                          # the annotator's, one key
    poses, message = detect_people(suggester, frames, frame)   # a frame nobody is labelled in
    pose = new_person_among(poses, others_here)                  # or a person just added beside them
    template.from_keyframe(video, track_id, frame, at=(x, y)) / template.average(video, skeleton, at)
"""
from .blazepose import BlazePose, Roi, runtime_missing
from .suggest import Suggester, Suggestion, accept, detect_people, new_person_among, place_suggestion
from . import template

__all__ = [
    "BlazePose", "Roi", "Suggester", "Suggestion", "accept", "detect_people", "new_person_among", "place_suggestion",
    "runtime_missing", "template",
]
