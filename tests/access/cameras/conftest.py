"""The real broker's frames queue, read back: what a camera's frames turn into on their way to the workers."""

import base64
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis

from access.cameras.services import FRAMES_QUEUE
from access.celery import app
from tests.conftest import require_server

FRAME_TASK = "recognition.tasks.process_frame"
# The name tests/conftest.py's session `celery_worker` gets; other runs' workers have other names.
SESSION_WORKER = f"pytest-{os.getpid()}@{socket.gethostname()}"
CONTROL_REPLY_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class QueuedFrame:
    task: str
    camera_id: int
    jpeg: bytes
    captured_at: float
    frame_id: str


def _decode(raw: bytes) -> QueuedFrame:
    message = json.loads(raw)
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    camera_id, frame_b64, captured_at, frame_id = args
    return QueuedFrame(
        message["headers"]["task"], camera_id, base64.b64decode(frame_b64), captured_at, frame_id
    )


@pytest.fixture
def frames_queue() -> Iterator[Callable[[], list[QueuedFrame]]]:
    """Take every message off this run's frames queue in Redis, oldest first, without a worker in between.

    Read straight from the list kombu pushes to (a publish has landed there when apply_async returns), so
    an empty answer means nothing was sent, not that a consumer was slow. This run's own worker, if running,
    stops consuming the frames queue meanwhile.
    """
    broker = urlsplit(app.conf.broker_url)
    if broker.scheme != "redis":
        pytest.skip(f"the frames queue is read back from Redis; the broker here is {broker.scheme}")
    require_server("Redis", broker.hostname or "localhost", broker.port or 6379, ["redis-server"])
    prefix = app.conf.broker_transport_options.get("global_keyprefix", "")
    key = f"{prefix}{FRAMES_QUEUE}"
    client = redis.Redis.from_url(app.conf.broker_url)
    # When this run's worker is up (a transactional test started it), it must not take the frames first.
    paused = app.control.cancel_consumer(
        FRAMES_QUEUE, destination=[SESSION_WORKER], reply=True, timeout=CONTROL_REPLY_TIMEOUT_S
    )
    client.delete(key)

    def drain() -> list[QueuedFrame]:
        received = []
        while (raw := client.rpop(key)) is not None:  # kombu pushes on the left
            received.append(_decode(raw))
        return received

    yield drain
    client.delete(key)
    client.close()
    if paused:
        app.control.add_consumer(
            FRAMES_QUEUE, destination=[SESSION_WORKER], reply=True, timeout=CONTROL_REPLY_TIMEOUT_S
        )
