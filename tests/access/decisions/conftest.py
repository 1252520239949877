"""Real faces for the decision tests: frames of real talking-head clips, people enrolled from other frames of
the same clips, and the frame function run here as the worker runs it."""

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from uuid import uuid4

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from access.cameras.models import Camera
from access.core.images import decode_image
from access.decisions import services
from access.events.models import Event
from access.people import services as people
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry
from recognition import tasks
from recognition.pipeline import engine
from tests.conftest import require_server
from tests.facedata import FACEDATA

VIDEOS = FACEDATA / "video"
# Frontal talking heads, one person each, the face 230-340 px wide.
KATIE = "WDA_KatieHill_000.mp4"
ALEXANDRIA = "WDA_AlexandriaOcasioCortez_000.mp4"
PRESENTER = "retalking_face_1.mp4"
INTERVIEWEE = "retalking_face_2.mp4"
STRANGER = "retalking_face_3.mp4"
ENROLL_FRAME = 0  # enrolled from the clip's first frame, probed seconds later (PROBE_FRAMES)
PROBE_FRAMES = range(100, 112, 2)
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
MQTT_URL = f"mqtt://{MQTT_HOST}:{MQTT_PORT}"


@cache
def _clip(name: str) -> tuple[np.ndarray, ...]:
    capture = cv2.VideoCapture(str(VIDEOS / name))
    frames = []
    ok, frame = capture.read()
    while ok and len(frames) <= PROBE_FRAMES.stop:
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        ok, frame = capture.read()
    capture.release()
    return tuple(frames)


def frame(name: str, index: int) -> np.ndarray:
    """Frame `index` of a clip, RGB."""
    return _clip(name)[index]


def probes(name: str, count: int) -> list[np.ndarray]:
    """`count` frames of the clip, two apart, well after the enrolled one."""
    return [frame(name, index) for index in PROBE_FRAMES[:count]]


def jpeg(pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    assert ok
    return encoded.tobytes()


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.hstack([left, right])


@pytest.fixture(autouse=True)
def worker_gallery(settings, tmp_path, monkeypatch) -> Path:
    """Each test starts the way a fresh worker process does: no gallery in memory, none saved."""
    if not VIDEOS.is_dir():
        pytest.skip(f"real video clips not found under {VIDEOS} (set FACEGATE_FACEDATA)")
    settings.FACEGATE_GALLERY_DIR = tmp_path / "gallery"
    monkeypatch.setattr(tasks.RecognitionTask, "_gallery", None)
    return settings.FACEGATE_GALLERY_DIR


def with_own_topics(camera: Camera, settings) -> Camera:
    """The camera, its door deciding on 2 of 3 frames within a window wide enough that a slow shared CPU never
    splits one passage, and MQTT topics of its own: runs share one broker, and retained messages stay."""
    prefix = f"facegate-test/{uuid4().hex}"
    settings.FACEGATE_HA_DISCOVERY_PREFIX = f"{prefix}/homeassistant"
    camera.door.mqtt_topic = f"{prefix}/door"
    camera.door.window_seconds = 30.0
    camera.door.save()
    return camera


def enrolled(name: str, clip: str) -> Person:
    """A consenting person enrolled, through the enrollment task's body, from the clip's first frame."""
    person = Person.objects.create(name=name, external_id=f"E-{uuid4().hex[:8]}")
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    sample = people.add_sample(person, decode_image(jpeg(frame(clip, ENROLL_FRAME))))
    assert tasks.enroll_sample(sample.pk) == FaceSample.State.ENROLLED
    return person


def allowed(name: str, clip: str, camera: Camera) -> Person:
    person = enrolled(name, clip)
    AllowEntry.objects.create(person=person, door=camera.door)
    return person


FrameRunner = Callable[..., list[Event]]


@pytest.fixture
def process(django_capture_on_commit_callbacks) -> FrameRunner:
    """Run the frame function on a frame as the task does, just captured; what it commits runs as it would
    after a real commit (door commands, alerts)."""
    engine()  # loaded now, not within a test's frame: a frame stamped before a model load would be stale

    def run(
        camera: Camera, pixels: np.ndarray, frame_id: str | None = None, captured_at: float | None = None
    ) -> list[Event]:
        with django_capture_on_commit_callbacks(execute=True):
            return services.process_frame(
                camera.pk,
                jpeg(pixels),
                time.time() if captured_at is None else captured_at,
                frame_id or f"{camera.pk}-{uuid4().hex}",
                engine=engine(),
                gallery=tasks.process_frame.synced_gallery(),
                scoring=tasks.process_frame.scoring,
            )

    return run


@dataclass
class Subscriber:
    messages: "queue.Queue[tuple[str, dict]]"

    def next(self, timeout: float = 10.0) -> tuple[str, dict]:
        """The next message received (topic, JSON payload); fails when none comes within `timeout`."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no MQTT message within {timeout} s")

    def pending(self) -> list[tuple[str, dict]]:
        """What has come in so far, waiting briefly for stragglers."""
        received = []
        with suppress(queue.Empty):
            while True:
                received.append(self.messages.get(timeout=0.5))
        return received


@contextmanager
def mqtt_subscriber(topic: str) -> Iterator[Subscriber]:
    """A real MQTT client on the test broker (Mosquitto on 127.0.0.1:1883) subscribed to `topic`."""
    require_server("Mosquitto", MQTT_HOST, MQTT_PORT, ["mosquitto"])
    subscriber = Subscriber(queue.Queue())
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pytest-{uuid4().hex[:8]}")
    client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _client, _data, message: subscriber.messages.put(
        (message.topic, json.loads(message.payload))
    )
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    try:
        assert subscribed.wait(10), "the MQTT subscription was not acknowledged"
        yield subscriber
    finally:
        client.loop_stop()
        client.disconnect()
