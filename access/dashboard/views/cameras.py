"""Cameras: the latest frame kept for each (its latest event's snapshot) with the faces of its recent
decisions boxed over it, those decisions, and what the camera service and the workers did with its frames."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
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
        listed = list(with_recent_decision_ids(Camera.objects.select_related("door", "health")))
        decisions = recent_decisions(listed)
        for camera in listed:
            health = getattr(camera, "health", None)
            cameras.append(
                CameraView(
                    camera, health, decisions[camera.pk], is_quiet(health, now), camera_threshold(camera)
                )
            )
        return {**super().get_context_data(**kwargs), "cameras": cameras, "quiet_after": QUIET_AFTER}


def _decision_rank(rank: int) -> str:
    return f"decision_{rank}_id"


def with_recent_decision_ids(cameras: QuerySet) -> QuerySet:
    """Each camera with the ids of its RECENT_DECISIONS newest decisions, newest first. Each id is a small
    index-backed subquery of the camera's own events: a window over every event of every camera (what a
    sliced prefetch makes) grows with the table."""
    newest = Event.objects.filter(camera=OuterRef("pk")).order_by("-occurred_at").values("pk")
    return cameras.annotate(
        **{_decision_rank(rank): Subquery(newest[rank : rank + 1]) for rank in range(RECENT_DECISIONS)}
    )


def recent_decisions(cameras: list[Camera]) -> dict[int, list[Event]]:
    """The decisions whose ids `with_recent_decision_ids` put on the cameras, in one query, per camera."""
    ids = {camera.pk: [getattr(camera, _decision_rank(rank)) for rank in range(RECENT_DECISIONS)]
           for camera in cameras}
    events = Event.objects.select_related("person").in_bulk([pk for pks in ids.values() for pk in pks if pk])
    return {camera: [events[pk] for pk in pks if pk in events] for camera, pks in ids.items()}
