"""One camera's frames, from the reader to the frame workers.

`capture_frames` reads, checks, rate-caps and gates frames into a bounded queue, reconnecting with backoff;
`send_frames` JPEG-encodes what is queued and hands it to the workers with a bounded number in flight. They
run in two threads, so a slow send never stalls reading (a live stream read late serves stale frames). Both
take their reader, gate, queue, sink and stop event as parameters, so tests drive them with a finite source.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np

from access.cameras.services import encode_jpeg

from .gate import MotionGate
from .reader import Frame, FrameReader, SourceUnavailable

logger = logging.getLogger(__name__)

IN_FLIGHT_POLL_S = 0.02
QUEUE_POLL_S = 0.2
SEND_FAILURE_PAUSE_S = 1.0
# Frames of one source arrive at its own pace; two frames this close in time count as one frame-rate step.
RATE_TOLERANCE_S = 0.001


class Delivery(Protocol):
    """A frame handed to the workers (a Celery AsyncResult): ready once a worker is done with it."""

    def ready(self) -> bool: ...


Submit = Callable[[bytes, float], Delivery | None]  # (jpeg, captured_at) -> None when nobody takes frames
Report = Callable[[dict[str, int], float | None], None]  # (increments, frames/s or None: no heartbeat)


class FrameStats:
    """One camera's counters, added to by both threads and reported at most every `interval_s`.

    A report with a frame rate is also the heartbeat: it is sent only while the source delivers frames.
    """

    def __init__(self, report: Report, *, interval_s: float = 1.0) -> None:
        self._report = report
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._reported_at = time.monotonic()
        self._read_at_last_report = 0

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._pending[name] = self._pending.get(name, 0) + amount
            self._totals[name] = self._totals.get(name, 0) + amount

    def total(self, name: str) -> int:
        """How many were counted since the service started (reported or not)."""
        with self._lock:
            return self._totals.get(name, 0)

    def flush_if_due(self) -> None:
        if time.monotonic() - self._reported_at >= self.interval_s:
            self.flush(alive=True)

    def flush(self, *, alive: bool) -> None:
        now = time.monotonic()
        with self._lock:
            counters, self._pending = self._pending, {}
            read = self._totals.get("read", 0)
        elapsed = now - self._reported_at
        frames_per_second = (read - self._read_at_last_report) / elapsed if alive and elapsed > 0 else None
        try:
            self._report(counters, frames_per_second)
        except Exception:
            # The database may be briefly away; the camera keeps reading, the counts wait for the next report.
            logger.exception("Could not report camera figures; keeping them for the next report.")
            with self._lock:
                for name, amount in counters.items():
                    self._pending[name] = self._pending.get(name, 0) + amount
            return
        self._reported_at, self._read_at_last_report = now, read


class DropOldestQueue:
    """A bounded queue of frames whose `put` makes room by dropping the oldest: the workers always get the
    newest frames, and a slow worker never makes the door act on what happened seconds ago."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("A frame queue holds at least one frame.")
        self._frames: deque[Frame] = deque(maxlen=maxsize)
        self._ready = threading.Condition()

    def put(self, frame: Frame) -> bool:
        """Queue a frame; True when the oldest queued frame was dropped to make room for it."""
        with self._ready:
            dropped = len(self._frames) == self._frames.maxlen
            self._frames.append(frame)
            self._ready.notify()
        return dropped

    def get(self, timeout: float) -> Frame | None:
        """The oldest queued frame, or None when none came within `timeout` seconds."""
        with self._ready:
            if not self._frames and not self._ready.wait_for(lambda: self._frames, timeout):
                return None
            return self._frames.popleft()

    def __len__(self) -> int:
        with self._ready:
            return len(self._frames)


class Backoff:
    """Waits between attempts to reopen a source: `initial_s`, doubled each failure up to `maximum_s`."""

    def __init__(self, initial_s: float = 0.5, maximum_s: float = 30.0) -> None:
        self.initial_s, self.maximum_s = initial_s, maximum_s
        self._next_s = initial_s

    def next_delay(self) -> float:
        delay, self._next_s = self._next_s, min(self._next_s * 2, self.maximum_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.initial_s


def frame_problem(pixels: np.ndarray | None, max_pixels: int) -> str | None:
    """Why a decoded frame cannot go to recognition (empty, corrupt or huge), or None when it can."""
    if pixels is None or pixels.size == 0:
        return "empty"
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        return f"corrupt ({pixels.dtype} {pixels.shape}, not 8-bit colour)"
    height, width = pixels.shape[:2]
    if height * width > max_pixels:
        return f"huge ({width}x{height} pixels, the limit is {max_pixels})"
    return None


def capture_frames(
    reader: FrameReader,
    gate: MotionGate,
    frames: DropOldestQueue,
    stop: threading.Event,
    *,
    frame_rate: float,
    stats: FrameStats,
    backoff: Backoff,
    max_pixels: int,
    name: str = "camera",
) -> None:
    """Read until `stop` is set or a video file has played to its end, reopening a broken source with backoff.

    Every frame read is counted; an empty, corrupt or huge one is counted and skipped. Of the rest, at most
    `frame_rate` a second that the motion gate passes are queued.
    """
    opened_before = False
    last_considered_at: float | None = None
    while not stop.is_set():
        if opened_before:
            stats.add("reconnects")
        opened_before = True
        try:
            reader.open()
            last_considered_at = _read_until_broken(
                reader, gate, frames, stop, frame_rate, stats, backoff, max_pixels, last_considered_at
            )
        except SourceUnavailable as exc:
            logger.warning("%s: %s", name, exc)
        finally:
            reader.close()
        if reader.finished:
            logger.info("%s: the video file played to its end.", name)
            break
        stats.flush(alive=False)
        if not stop.is_set():
            delay = backoff.next_delay()
            logger.warning("%s: the source broke or ended; reopening in %.1f s.", name, delay)
            stop.wait(delay)
    stats.flush(alive=False)


def _read_until_broken(
    reader: FrameReader,
    gate: MotionGate,
    frames: DropOldestQueue,
    stop: threading.Event,
    frame_rate: float,
    stats: FrameStats,
    backoff: Backoff,
    max_pixels: int,
    last_considered_at: float | None,
) -> float | None:
    min_gap_s = 1 / frame_rate - RATE_TOLERANCE_S
    while not stop.is_set():
        frame = reader.read()
        if frame is None:
            break
        backoff.reset()
        stats.add("read")
        if problem := frame_problem(frame.pixels, max_pixels):
            stats.add("corrupt")
            logger.debug("Skipped a frame: %s.", problem)
        elif last_considered_at is None or frame.captured_at - last_considered_at >= min_gap_s:
            last_considered_at = frame.captured_at
            if gate.passes(frame.pixels, frame.captured_at) and frames.put(frame):
                stats.add("dropped")
        stats.flush_if_due()
    return last_considered_at


def send_frames(
    frames: DropOldestQueue,
    submit: Submit,
    stop: threading.Event,
    *,
    stats: FrameStats,
    max_in_flight: int,
    max_jpeg_bytes: int,
    in_flight_timeout_s: float,
    capture_done: threading.Event | None = None,
) -> None:
    """Encode and submit queued frames until `stop` is set (or the queue is empty once `capture_done` is).

    At most `max_in_flight` frames are with the workers at once; while that many are, new frames wait in the
    queue, whose oldest are dropped. A frame in flight longer than `in_flight_timeout_s` is too old to matter
    (the worker drops it as stale) and no longer holds a place.
    """
    in_flight: list[tuple[Delivery, float]] = []
    while not stop.is_set():
        now = time.monotonic()
        in_flight = [(d, at) for d, at in in_flight if now - at < in_flight_timeout_s and not d.ready()]
        if len(in_flight) >= max_in_flight:
            stop.wait(IN_FLIGHT_POLL_S)
            continue
        frame = frames.get(timeout=QUEUE_POLL_S)
        if frame is None:
            if capture_done is not None and capture_done.is_set():
                return
            continue
        try:
            jpeg = encode_jpeg(frame.pixels)
        except ValueError:
            stats.add("corrupt")
            logger.debug("Skipped a frame OpenCV could not encode as JPEG.")
            continue
        if len(jpeg) > max_jpeg_bytes:
            stats.add("corrupt")
            logger.debug("Skipped a frame of %d JPEG bytes; the limit is %d.", len(jpeg), max_jpeg_bytes)
            continue
        delivery = submit(jpeg, frame.captured_at)
        if delivery is None:
            stop.wait(SEND_FAILURE_PAUSE_S)
            continue
        stats.add("sent")
        in_flight.append((delivery, time.monotonic()))
