"""Server-sent events read from the change log, so every web process on every host streams the same thing.

Each message is one change: `id:` is the change's id (the cursor a reconnecting client sends back as
Last-Event-ID), `event:` is "event" or "alert", `data:` is the object as JSON. Comments keep idle
connections open through proxies, and a stream ends after its lifetime so clients reconnect.
"""

import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.urls import reverse

from access.alerts.models import Alert
from access.events.models import Event

from .models import Change

BATCH = 200
# How long a browser's EventSource waits before reconnecting after the stream ends.
RECONNECT_MS = 1000


@dataclass(frozen=True)
class StreamTiming:
    poll_s: float
    heartbeat_s: float
    lifetime_s: float

    @classmethod
    def from_settings(cls) -> "StreamTiming":
        return cls(
            settings.FACEGATE_STREAM_POLL_SECONDS,
            settings.FACEGATE_STREAM_HEARTBEAT_SECONDS,
            settings.FACEGATE_STREAM_MAX_SECONDS,
        )


class _Gauge:
    def __init__(self) -> None:
        self._lock, self._value = threading.Lock(), 0

    def add(self, step: int) -> None:
        with self._lock:
            self._value += step

    @property
    def value(self) -> int:
        return self._value


_open_streams = _Gauge()


def open_streams() -> int:
    """How many streams this process is serving: each holds one of the web server's threads."""
    return _open_streams.value


def latest_change_id() -> int:
    return Change.objects.aggregate(latest=Max("id"))["latest"] or 0


def messages(
    after: int, absolute_url: Callable[[str], str], timing: StreamTiming, topics: Collection[str]
) -> Iterator[str]:
    """The stream's text: every change of `topics` after `after`, as it commits, until the stream's lifetime
    ends (the cursor moves past the other topics' changes too)."""
    # An id with no data moves the client's Last-Event-ID without dispatching anything: a client that
    # reconnects before any change still resumes from here.
    _open_streams.add(1)
    try:
        yield f"retry: {RECONNECT_MS}\nid: {after}\n\n"
        started = last_sent = time.monotonic()
        while time.monotonic() - started < timing.lifetime_s:
            changes = list(Change.objects.filter(pk__gt=after).order_by("pk")[:BATCH])
            if changes:
                shown = [change for change in changes if change.topic in topics]
                yield from (_message(change, body) for change, body in _bodies(shown, absolute_url))
                after, last_sent = changes[-1].pk, time.monotonic()
                if len(changes) == BATCH:  # more are waiting
                    continue
            elif time.monotonic() - last_sent >= timing.heartbeat_s:
                # Also how a stream learns that its client has gone: the write fails and the server ends it.
                yield ": heartbeat\n\n"
                last_sent = time.monotonic()
            time.sleep(timing.poll_s)
    finally:
        _open_streams.add(-1)


def _message(change: Change, body: dict[str, Any]) -> str:
    return f"id: {change.pk}\nevent: {change.topic}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def _bodies(changes: list[Change], absolute_url: Callable[[str], str]) -> Iterator[tuple[Change, dict]]:
    """Each change with its object as it is now; a change whose object has since been deleted is left out."""
    related = ["person", "camera", "door"]
    events = Event.objects.select_related(*related).in_bulk(
        [change.object_id for change in changes if change.topic == Change.Topic.EVENT]
    )
    alerts = Alert.objects.select_related(*related).in_bulk(
        [change.object_id for change in changes if change.topic == Change.Topic.ALERT]
    )
    for change in changes:
        if change.topic == Change.Topic.EVENT and change.object_id in events:
            yield change, event_body(events[change.object_id], absolute_url)
        elif change.topic == Change.Topic.ALERT and change.object_id in alerts:
            yield change, {**alert_body(alerts[change.object_id]), "change": change.action}


def _named(thing) -> dict[str, Any] | None:
    return {"id": thing.pk, "name": thing.name} if thing else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def event_body(event: Event, absolute_url: Callable[[str], str]) -> dict[str, Any]:
    snapshot = reverse("api:event-snapshot", args=[event.pk]) if event.snapshot else None
    return {
        "id": event.pk,
        "time": event.occurred_at.isoformat(),
        "decision": event.decision,
        "person": _named(event.person),
        "door": _named(event.door),
        "camera": _named(event.camera),
        "distance": event.distance,
        "reason": event.reason,
        "snapshot_url": absolute_url(snapshot) if snapshot else None,
    }


def alert_body(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "state": alert.state,
        "event": alert.event_id,
        "person": _named(alert.person),
        "door": _named(alert.door),
        "camera": _named(alert.camera),
        "message": alert.message,
        "created_at": alert.created_at.isoformat(),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "resolved_at": _iso(alert.resolved_at),
    }
