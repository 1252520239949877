"""Cameras: the latest frame kept for each (its latest event's snapshot) with the faces of its recent
decisions boxed over it, those decisions, and what the camera service and the workers did with its frames."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.views.generic import TemplateView

from access.cameras.models import Camera, CameraHealth
from access.events.models import Event

from ..charts import Threshold, camera_threshold
from .access import DashboardAccess
from .doors import SelfRefreshing

# The camera service reports at least every 2 s: five reports missed and the camera counts as quiet.
QUIET_AFTER = timedelta(seconds=10)
RECENT_DECISIONS = 6


@dataclass(frozen=True)
class CameraView:
    camera: Camera
    health: CameraHealth | None
    decisions: list[Event]  # newest first
    quiet: bool
    threshold: Threshold

    @property
    def latest_frame(self) -> Event | None:
        """The newest decision with a snapshot: the latest frame the system keeps for this camera."""
        return next((event for event in self.decisions if event.snapshot), None)

    @property
    def boxes(self) -> list["FaceBox"]:
        """Where the faces of the recent decisions were, oldest first so the latest frame's own face is drawn
        on top."""
        latest = self.latest_frame
        return [FaceBox.of(event, event == latest) for event in reversed(self.decisions) if event.face_box]


@dataclass(frozen=True)
class FaceBox:
    """A decision's face box as CSS percentages of the frame it is drawn over; `current` when that frame is
    the decision's own."""

    event: Event
    left: float
    top: float
    width: float
    height: float
    current: bool

    @classmethod
    def of(cls, event: Event, current: bool) -> "FaceBox":
        left, top, right, bottom = (100 * edge for edge in event.face_box)
        return cls(event, left, top, right - left, bottom - top, current)


def is_quiet(health: CameraHealth | None, now: datetime) -> bool:
    return health is None or health.heartbeat_at is None or now - health.heartbeat_at > QUIET_AFTER


class CameraListView(DashboardAccess, SelfRefreshing, TemplateView):
    section = "cameras"
    template_name = "dashboard/cameras/list.html"
    permission_required = "cameras.view_camera"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        now = timezone.now()
        cameras = []
        recent = Event.objects.select_related("person")[:RECENT_DECISIONS]
        for camera in Camera.objects.select_related("door", "health").prefetch_related(
            Prefetch("events", queryset=recent, to_attr="recent_decisions")
        ):
            health = getattr(camera, "health", None)
            cameras.append(
                CameraView(
                    camera, health, camera.recent_decisions, is_quiet(health, now), camera_threshold(camera)
                )
            )
        return {**super().get_context_data(**kwargs), "cameras": cameras, "quiet_after": QUIET_AFTER}
