"""Cameras: the latest frame kept for each (its latest event's snapshot, with the face box the frame worker
drew on it), the decisions made there last, and what the camera service and the workers did with its
frames."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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


def is_quiet(health: CameraHealth | None, now: datetime) -> bool:
    return health is None or health.heartbeat_at is None or now - health.heartbeat_at > QUIET_AFTER


class CameraListView(DashboardAccess, SelfRefreshing, TemplateView):
    template_name = "dashboard/cameras/list.html"
    permission_required = "cameras.view_camera"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        now = timezone.now()
        cameras = []
        for camera in Camera.objects.select_related("door", "health"):
            health = getattr(camera, "health", None)
            decisions = list(camera.events.select_related("person")[:RECENT_DECISIONS])
            cameras.append(
                CameraView(camera, health, decisions, is_quiet(health, now), camera_threshold(camera))
            )
        return {**super().get_context_data(**kwargs), "cameras": cameras, "quiet_after": QUIET_AFTER}
