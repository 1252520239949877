"""The MQTT side of the doors, as one long-running process (`manage.py run_door_bridge`).

It listens to every MQTT door's heartbeat and state topics and stores what the controllers say, keeps the
Home Assistant discovery configs in step with the doors (also when Home Assistant restarts), and publishes
each watched door's availability from its heartbeats. The door list is read again every `refresh_s`.
"""

import json
import logging
import queue
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from . import services
from .controllers import ControllerError
from .controllers.mqtt import AVAILABILITY, HEARTBEAT, OFFLINE, ONLINE, STATE, Publisher, topic
from .models import Door

logger = logging.getLogger(__name__)


class DoorBridge(Publisher):
    def __init__(self, url: str) -> None:
        super().__init__(url, role="bridge")
        self.client.on_message = self._on_message
        self._lock = threading.Lock()
        self.routes: dict[str, tuple[int, str]] = {}  # topic -> (door id, HEARTBEAT or STATE)
        self.availability: dict[int, str] = {}  # door id -> what this bridge last published
        # paho's network thread only queues what arrives; the thread that runs the bridge stores it, so the
        # database is used from one thread only.
        self.inbox: queue.Queue[tuple[str, str, bool]] = queue.Queue()

    @property
    def home_assistant_status_topic(self) -> str:
        return f"{settings.FACEGATE_HA_DISCOVERY_PREFIX}/status"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        # A fresh session has no subscriptions, and a restarted broker may have lost the retained messages.
        with self._lock:
            self.announced.clear()
            self.availability.clear()
            topics = [self.home_assistant_status_topic, *self.routes]
        for name in topics:
            client.subscribe(name, qos=1)
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def _on_message(self, client, userdata, message) -> None:
        payload = message.payload.decode(errors="replace").strip()
        if message.topic == self.home_assistant_status_topic:
            if payload == "online":  # Home Assistant restarted: it wants the discovery configs again
                with self._lock:
                    self.announced.clear()
            return
        self.inbox.put((message.topic, payload, message.retain))

    def store_received(self, wait_s: float) -> None:
        """Store the heartbeats and states received, waiting up to `wait_s` for the first one."""
        try:
            received = [self.inbox.get(timeout=wait_s)]
        except queue.Empty:
            return
        while not self.inbox.empty():
            received.append(self.inbox.get_nowait())
        for topic_name, payload, retained in received:
            self._store(topic_name, payload, retained)

    def _store(self, topic_name: str, payload: str, retained: bool) -> None:
        with self._lock:
            route = self.routes.get(topic_name)
        if route is None:
            return
        door_id, leaf = route
        try:
            if leaf == HEARTBEAT and not retained:  # a retained heartbeat is old news, not a sign of life
                services.record_heartbeat(door_id, state=_reported_state(payload))
            elif leaf == STATE and payload:
                services.record_reported_state(door_id, payload)
        except ValueError as exc:
            logger.warning("Ignored %s from door %s: %s", topic_name, door_id, exc)
        except DatabaseError:  # a door just deleted, a database restarting: the next heartbeat comes soon
            logger.exception("Could not store %s from door %s", topic_name, door_id)

    def sync(self, now: datetime | None = None) -> None:
        """Follow the door list: subscriptions, discovery configs and availability."""
        now = now or timezone.now()
        doors = list(Door.objects.filter(controller_kind=Door.ControllerKind.MQTT).select_related("status"))
        routes = {topic(door, leaf): (door.pk, leaf) for door in doors for leaf in (HEARTBEAT, STATE)}
        with self._lock:
            added, removed = routes.keys() - self.routes.keys(), self.routes.keys() - routes.keys()
            self.routes = routes
            gone = self.announced.keys() - {door.pk for door in doors}
        for name in removed:
            self.client.unsubscribe(name)
        for name in added:
            self.client.subscribe(name, qos=1)
        try:
            for door_id in gone:
                self._forget(door_id)
            for door in doors:
                self.announce(door)
                self._publish_availability(door, now)
        except ControllerError as exc:
            logger.warning("Door bridge could not publish (will retry): %s", exc)

    def _forget(self, door_id: int) -> None:
        """An empty retained config removes a deleted door from Home Assistant."""
        prefix = settings.FACEGATE_HA_DISCOVERY_PREFIX
        self.publish(f"{prefix}/lock/facegate_door_{door_id}/config", "", retain=True)
        with self._lock:
            self.announced.pop(door_id, None)
            self.availability.pop(door_id, None)

    def _publish_availability(self, door: Door, now: datetime) -> None:
        online = door.controller_online(now)
        if online is None:
            return
        availability = ONLINE if online else OFFLINE
        if self.availability.get(door.pk) != availability:
            self.publish(topic(door, AVAILABILITY), availability, retain=True)
            self.availability[door.pk] = availability

    def run(self, stop: threading.Event, refresh_s: float) -> None:
        self.start()
        next_sync = time.monotonic()
        try:
            while not stop.is_set():
                if time.monotonic() >= next_sync:
                    close_old_connections()
                    self.sync()
                    next_sync = time.monotonic() + refresh_s
                self.store_received(wait_s=min(0.5, refresh_s))
        finally:
            self.close()


def _reported_state(payload: str) -> str | None:
    """A heartbeat may be empty, or JSON such as {"state": "locked"}."""
    if not payload:
        return None
    try:
        body = json.loads(payload)
    except json.JSONDecodeError:
        raise ValueError('a heartbeat is empty or a JSON object such as {"state": "locked"}') from None
    return body.get("state") if isinstance(body, dict) else None
