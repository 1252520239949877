"""MQTT door controllers: one process-wide paho client, QoS 1, and Home Assistant discovery.

Topics, for a door whose `mqtt_topic` is T:
  T/set           commands from FaceGate (JSON), QoS 1, with a message expiry so a late one never opens a door
  T/state         "locked" / "unlocked", retained: as the controller reports it, or as FaceGate last commanded
  T/heartbeat     the controller's heartbeat: empty, or JSON {"state": ...}; run_door_bridge reads it
  T/availability  "online" / "offline", retained: run_door_bridge publishes it from the heartbeats
and `<discovery prefix>/lock/facegate_door_<id>/config`, retained, so the door appears in Home Assistant.
"""

import json
import os
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..models import Door
from . import ControllerError

COMMAND, STATE, HEARTBEAT, AVAILABILITY = "set", "state", "heartbeat", "availability"
ONLINE, OFFLINE = "online", "offline"
QOS = 1


def topic(door: Door, leaf: str) -> str:
    return f"{door.mqtt_topic}/{leaf}"


def discovery_topic(door: Door) -> str:
    return f"{settings.FACEGATE_HA_DISCOVERY_PREFIX}/lock/facegate_door_{door.pk}/config"


def _home_assistant_command(action: str) -> str:
    return json.dumps({"action": action, "source": "home_assistant"})


def discovery_config(door: Door) -> dict:
    """A Home Assistant MQTT `lock` entity whose commands reach the controller as FaceGate's JSON does."""
    unique_id = f"facegate_door_{door.pk}"
    config = {
        "name": None,  # the entity takes the device's name: the door's
        "unique_id": unique_id,
        "command_topic": topic(door, COMMAND),
        "state_topic": topic(door, STATE),
        "payload_lock": _home_assistant_command("lock"),
        "payload_unlock": _home_assistant_command("unlock"),
        "payload_open": _home_assistant_command("open"),
        "state_locked": "locked",
        "state_unlocked": "unlocked",
        "optimistic": False,
        "qos": QOS,
        "device": {
            "identifiers": [unique_id],
            "name": door.name,
            "manufacturer": "FaceGate",
            "model": "Door controller (MQTT)",
            "suggested_area": door.location or None,
        },
    }
    if door.is_watched:
        config |= {
            "availability_topic": topic(door, AVAILABILITY),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
        }
    return config


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> "Broker":
        """mqtt://user:pass@host:1883, or mqtts:// for TLS (port 8883 by default)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ControllerError(
                f"MQTT_URL must look like mqtt://user:pass@host:1883 or mqtts://...; got {url!r}."
            )
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def new_client(broker: Broker, role: str) -> mqtt.Client:
    """A paho client (MQTT 5, so commands can carry an expiry) that reconnects on its own."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"facegate-{role}-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv5,
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


class Publisher:
    """A connected client that publishes at QoS 1 and waits for the broker's PUBACK."""

    def __init__(self, url: str, role: str = "commands") -> None:
        self.broker = Broker.from_url(url)
        self.client = new_client(self.broker, role)
        self.connected = threading.Event()
        self.announced: dict[int, str] = {}  # door id -> the discovery config this client published
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> "Publisher":
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()

    def publish(
        self, topic: str, payload: str, *, retain: bool = False, expiry_s: float | None = None
    ) -> None:
        timeout_s = settings.FACEGATE_DOOR_COMMAND_TIMEOUT_S
        if not self.connected.wait(timeout_s):
            raise ControllerError(
                f"The MQTT broker {self.broker} did not accept a connection within {timeout_s:g} s."
            )
        properties = None
        if expiry_s is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = max(1, round(expiry_s))
        info = self.client.publish(topic, payload, qos=QOS, retain=retain, properties=properties)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise ControllerError(f"Publishing to {topic} on {self.broker} failed: {exc}") from exc
        if not info.is_published():
            raise ControllerError(
                f"The MQTT broker {self.broker} did not acknowledge {topic} within {timeout_s:g} s."
            )

    def announce(self, door: Door) -> None:
        """Publish the door's Home Assistant discovery config, unless this client already published it."""
        config = json.dumps(discovery_config(door), sort_keys=True)
        if self.announced.get(door.pk) != config:
            self.publish(discovery_topic(door), config, retain=True)
            self.announced[door.pk] = config

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


_lock = threading.Lock()
_publisher: Publisher | None = None
_publisher_key: tuple[int, str] | None = None


def publisher() -> Publisher:
    """This process's client for MQTT_URL, connected on first use (again after a fork: one per process)."""
    global _publisher, _publisher_key
    url = settings.MQTT_URL
    if not url:
        raise ControllerError(
            "No MQTT broker is configured (MQTT_URL is empty), so MQTT doors cannot be commanded."
        )
    key = (os.getpid(), url)
    with _lock:
        if _publisher_key != key:
            if _publisher is not None and _publisher_key[0] == key[0]:
                _publisher.close()  # MQTT_URL changed; a client inherited through fork has no thread to stop
            _publisher, _publisher_key = Publisher(url).start(), key
        return _publisher


def send(door: Door, payload: dict) -> None:
    client = publisher()
    client.announce(door)
    client.publish(topic(door, COMMAND), json.dumps(payload), expiry_s=settings.FACEGATE_DOOR_COMMAND_TTL_S)


def publish_state(door: Door, state: str) -> None:
    publisher().publish(topic(door, STATE), state, retain=True)
