"""The live feed: the latest events and open alerts, then the live stream from where the page rendered."""

from typing import Any

from django.views.generic import DetailView, TemplateView

from access.alerts.models import Alert
from access.events.models import Event
from access.live.stream import latest_change_id

from .access import WATCH_PERMISSION, DashboardAccess

FEED_LENGTH = 50
# Alerts are read with their own right, as through the API (viewers, operators and admins hold it).
VIEW_ALERTS = "alerts.view_alert"


def _events() -> Any:
    return Event.objects.select_related("person", "door", "camera")


def _alerts() -> Any:
    return Alert.objects.select_related("person", "door", "camera")


class FeedView(DashboardAccess, TemplateView):
    """The latest events and the open alerts; the page then follows the live stream from where it rendered."""
    section = "feed"

    template_name = "dashboard/feed.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        # The cursor is read before the rows: a change committed in between is streamed again, never lost
        # (the page skips rows it already shows).
        cursor = latest_change_id()
        return {
            **super().get_context_data(**kwargs),
            "stream_cursor": cursor,
            "feed_length": FEED_LENGTH,
            "events": _events()[:FEED_LENGTH],
            "alerts": _alerts().exclude(state=Alert.State.RESOLVED)
            if self.request.user.has_perm(VIEW_ALERTS)
            else Alert.objects.none(),
        }


class EventRowView(DashboardAccess, DetailView):
    template_name = "dashboard/_event.html"
    context_object_name = "event"

    def get_queryset(self) -> Any:
        return _events()


class AlertBannerView(DashboardAccess, DetailView):
    """One alert's banner; empty once it is resolved, so the page drops it."""

    template_name = "dashboard/_alert.html"
    context_object_name = "alert"
    permission_required = (WATCH_PERMISSION, VIEW_ALERTS)

    def get_queryset(self) -> Any:
        return _alerts()
