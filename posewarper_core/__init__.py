"""posewarper_core: video pose annotation with PoseWarper auto-fill. No Qt in here."""
from .annotation import FrameRef, Pose, PoseChange, Project, Provenance, Track, Video, Visibility
from .errors import Cancelled, FormatError, ModelError, PoseWarperError, ProjectError, VideoError
from .skeleton import COCO17, POSETRACK17, Skeleton

__version__ = "0.1.0"

__all__ = [
    "Cancelled", "COCO17", "FormatError", "FrameRef", "ModelError", "POSETRACK17", "Pose",
    "PoseChange", "PoseWarperError", "Project", "ProjectError", "Provenance", "Skeleton", "Track", "Video",
    "VideoError", "Visibility",
]
