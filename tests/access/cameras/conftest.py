"""The real broker's frames queue, read back: what a camera's frames turn into on their way to the workers."""

import base64
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from access.cameras.services import FRAMES_QUEUE
from access.celery import app
from recognition import tasks
from tests.conftest import require_server

FRAME_TASK = "recognition.tasks.process_frame"


@dataclass(frozen=True)
class QueuedFrame:
    task: str
    camera_id: int
    jpeg: bytes
    captured_at: float
    frame_id: str


@pytest.fixture
def frames_queue(monkeypatch) -> Iterator[Callable[[], list[QueuedFrame]]]:
    """Read back (and remove) the frame messages on this run's frames queue of the real broker.

    Until the frame task exists, frames are sent by its name (exactly what the task's apply_async sends).
    """
    broker = urlsplit(app.conf.broker_url)
    if broker.scheme != "redis":
        pytest.skip(f"the frames queue is read back from Redis; the broker here is {broker.scheme}")
    require_server("Redis", broker.hostname or "localhost", broker.port or 6379, ["redis-server"])
    if not hasattr(tasks, "process_frame"):
        monkeypatch.setattr(tasks, "process_frame", app.signature(FRAME_TASK), raising=False)

    with app.connection_for_read() as connection:
        frames = connection.SimpleQueue(FRAMES_QUEUE, no_ack=True)
        frames.clear()

        def drain() -> list[QueuedFrame]:
            received = []
            while True:
                try:
                    message = frames.get(timeout=0.5)
                except queue.Empty:
                    return received
                (camera_id, frame_b64, captured_at, frame_id), _kwargs, _embed = message.decode()
                received.append(
                    QueuedFrame(message.headers["task"], camera_id, base64.b64decode(frame_b64), captured_at,
                                frame_id)
                )

        yield drain
        frames.clear()
        frames.close()
