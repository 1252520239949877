"""A real Mosquitto (127.0.0.1:1883) with a real paho subscriber; a real HTTP relay that checks signatures."""

import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from access.doors.models import Door
from tests.conftest import require_server

BROKER_HOST, BROKER_PORT = "127.0.0.1", 1883
HMAC_SECRET = "test-door-secret"
WAIT_S = 10


@pytest.fixture
def topic_prefix() -> str:
    """Runs share one broker, and retained messages outlive a test: each test gets its own topic tree."""
    return f"facegate-test/{uuid.uuid4().hex}"


@pytest.fixture
def mqtt_broker(settings, topic_prefix: str) -> str:
    require_server("Mosquitto", BROKER_HOST, BROKER_PORT, ["mosquitto"])
    settings.MQTT_URL = f"mqtt://{BROKER_HOST}:{BROKER_PORT}"
    settings.FACEGATE_HA_DISCOVERY_PREFIX = f"{topic_prefix}/homeassistant"
    return settings.MQTT_URL


class Subscriber:
    """A real MQTT client that records every message it receives, as a controller or Home Assistant would."""

    def __init__(self, topic_filter: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.seen: list[mqtt.MQTTMessage] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:12]}")
        subscribed = threading.Event()
        self.client.on_message = lambda client, userdata, message: self.messages.put(message)
        self.client.on_subscribe = lambda *args: subscribed.set()
        # QoS 2 here, so a message arrives at exactly the QoS it was published with.
        self.client.on_connect = lambda client, *args: client.subscribe(topic_filter, qos=2)
        self.client.connect(BROKER_HOST, BROKER_PORT)
        self.client.loop_start()
        assert subscribed.wait(WAIT_S), "the test subscriber could not subscribe"

    def next_on(self, topic: str) -> mqtt.MQTTMessage:
        """The first message on `topic` not yet taken; fails after WAIT_S."""
        for earlier in self.seen:
            if earlier.topic == topic:
                self.seen.remove(earlier)
                return earlier
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if message.topic == topic:
                return message
            self.seen.append(message)
        pytest.fail(f"nothing arrived on {topic} within {WAIT_S} s")

    def drain(self, settle_s: float = 0.5) -> list[mqtt.MQTTMessage]:
        """Everything received so far, once nothing more has arrived for `settle_s`."""
        while True:
            try:
                self.seen.append(self.messages.get(timeout=settle_s))
            except queue.Empty:
                break
        taken, self.seen = self.seen, []
        return taken

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribe(mqtt_broker: str, topic_prefix: str) -> Iterator:
    """subscribe(filter) -> a Subscriber; afterwards every retained message under the prefix is cleared."""
    subscribers: list[Subscriber] = []

    def start(topic_filter: str = f"{topic_prefix}/#") -> Subscriber:
        subscribers.append(Subscriber(topic_filter))
        return subscribers[-1]

    yield start
    sweeper = Subscriber(f"{topic_prefix}/#")
    for message in sweeper.drain():
        if message.retain and message.payload:
            sweeper.publish(message.topic, "", retain=True)
    for subscriber in [*subscribers, sweeper]:
        subscriber.close()


@pytest.fixture
def mqtt_door(db, topic_prefix: str) -> Door:
    return Door.objects.create(
        name="Front door", location="Lobby", controller_kind="mqtt", mqtt_topic=f"{topic_prefix}/doors/front"
    )


@dataclass
class RelayRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Relay:
    """A door relay on a real local HTTP server: verifies the HMAC signature as a relay's firmware would."""

    url: str
    requests: list[RelayRequest] = field(default_factory=list)
    failures_left: int = 0  # answer this many requests with `failure_status` first
    failure_status: int = 503


def _signature_valid(headers, body: bytes) -> bool:
    timestamp = headers.get("X-FaceGate-Timestamp", "")
    expected = hmac.new(HMAC_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 60
    return fresh and hmac.compare_digest(f"sha256={expected}", headers.get("X-FaceGate-Signature", ""))


@pytest.fixture
def relay(settings) -> Iterator[Relay]:
    settings.FACEGATE_DOOR_HMAC_SECRET = HMAC_SECRET
    settings.FACEGATE_DOOR_HTTP_BACKOFF_S = 0.05

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            valid = _signature_valid(self.headers, body)
            state.requests.append(RelayRequest(self.path, dict(self.headers), body, valid))
            if state.failures_left:
                state.failures_left -= 1
                self.send_response(state.failure_status)
            else:
                self.send_response(204 if valid else 401)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Relay(url=f"http://127.0.0.1:{server.server_port}/relay/1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def http_door(db, relay: Relay) -> Door:
    return Door.objects.create(name="Side gate", controller_kind="http", http_url=relay.url, open_seconds=3.0)
