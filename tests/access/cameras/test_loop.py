"""The capture and send loops, driven by real footage: into the real broker, through bad frames, under a slow
consumer, and across a real MJPEG camera that goes away and comes back, or a clip that vanishes from disk."""

import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from access.cameras.services import enqueue_frame
from access.cameras.sources import parse_source
from access.cameras.stream.gate import MotionGate
from access.cameras.stream.loop import Backoff, DropOldestQueue, FrameStats, capture_frames, send_frames
from access.cameras.stream.reader import Frame, OpenCVReader
from tests.access.cameras.mjpeg import MjpegCamera
from tests.access.cameras.video import SHOP, TALKING_HEAD, WALKING, ListReader, video_frames, wait_until

MAX_PIXELS = 40_000_000
EVERY_FRAME = {"keyframe_interval_s": 0.0}  # a gate that passes every frame: the queue is what is tested


class Counts:
    """A FrameStats report target that adds the reports up, as CameraHealth does."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.heartbeats: list[float] = []

    def __call__(self, counters: dict[str, int], frames_per_second: float | None) -> None:
        for name, amount in counters.items():
            self.totals[name] = self.totals.get(name, 0) + amount
        if frames_per_second is not None:
            self.heartbeats.append(frames_per_second)


class Recorder:
    """A frame sink that keeps what it is given; its deliveries finish when `release` is set."""

    def __init__(self, release: threading.Event | None = None) -> None:
        self.sent: list[tuple[bytes, float]] = []
        self.release = release

    def __call__(self, jpeg: bytes, captured_at: float) -> "Recorder":
        self.sent.append((jpeg, captured_at))
        return self

    def ready(self) -> bool:
        return self.release is None or self.release.is_set()


def run_once(reader, submit, *, frame_rate=25.0, gate=None, max_pixels=MAX_PIXELS) -> Counts:
    """Play a finite reader through both loops to the end; the camera's counts."""
    counts = Counts()
    stats = FrameStats(counts, interval_s=0.0)
    frames, stop, capture_done = DropOldestQueue(500), threading.Event(), threading.Event()
    sender = threading.Thread(
        target=send_frames,
        args=(frames, submit, stop),
        kwargs={"stats": stats, "max_in_flight": 1000, "max_jpeg_bytes": 10_000_000,
                "in_flight_timeout_s": 3600, "capture_done": capture_done},
    )
    sender.start()
    capture_frames(reader, gate or MotionGate(), frames, stop, frame_rate=frame_rate, stats=stats,
                   backoff=Backoff(), max_pixels=max_pixels)
    capture_done.set()
    sender.join(60)
    stats.flush(alive=False)
    return counts


def test_a_real_video_reaches_the_broker_at_the_camera_frame_rate(frames_queue):
    reader = OpenCVReader(parse_source(str(WALKING)), paced=False)
    total_frames = len(video_frames(WALKING))

    counts = run_once(reader, lambda jpeg, at: enqueue_frame(7, jpeg, at), frame_rate=5.0)

    queued = frames_queue()
    assert counts.totals["read"] == total_frames
    assert counts.totals["sent"] == len(queued)
    # 4.2 s of people walking at 5 frames a second: every fifth frame, each one moving.
    assert len(queued) == len(range(0, total_frames, 5))
    assert {frame.camera_id for frame in queued} == {7}
    gaps = np.diff([frame.captured_at for frame in queued])
    assert np.all(gaps > 0.19)
    first = cv2.imdecode(np.frombuffer(queued[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (1080, 1920, 3)
    assert len({frame.frame_id for frame in queued}) == len(queued)


def test_corrupt_empty_and_huge_frames_are_counted_and_skipped():
    real = video_frames(TALKING_HEAD, limit=6)
    bad = [
        None,  # a decoder that returned nothing
        np.empty((0, 0, 3), np.uint8),  # an empty frame
        real[0][:, :, :2],  # channels lost
        real[0].astype(np.float32),  # not 8-bit
        cv2.resize(real[0], (2048, 2048)),  # over the pixel limit below
    ]
    reader = ListReader(real[:3] + bad + real[3:])
    recorder = Recorder()

    counts = run_once(reader, recorder, gate=MotionGate(**EVERY_FRAME), max_pixels=1024 * 1024)

    assert counts.totals["corrupt"] == len(bad)
    assert counts.totals["read"] == len(real) + len(bad)
    # Every real frame, including those after the bad ones, still went out.
    sent = [cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) for jpeg, _ in recorder.sent]
    assert len(sent) == len(real)
    assert all(frame.shape == (512, 512, 3) for frame in sent)


def test_a_slow_consumer_gets_the_newest_frames_and_the_drops_are_counted():
    pixels = video_frames(TALKING_HEAD, limit=40)
    first, rest = ListReader(pixels[:1]), ListReader(pixels[1:])
    release = threading.Event()
    recorder = Recorder(release)  # a worker that holds on to its frame until released
    counts = Counts()
    stats = FrameStats(counts, interval_s=0.0)
    frames, stop, capture_done = DropOldestQueue(2), threading.Event(), threading.Event()
    sender = threading.Thread(
        target=send_frames,
        args=(frames, recorder, stop),
        kwargs={"stats": stats, "max_in_flight": 1, "max_jpeg_bytes": 10_000_000,
                "in_flight_timeout_s": 3600, "capture_done": capture_done},
    )
    sender.start()
    every_frame = {"gate": MotionGate(**EVERY_FRAME), "frames": frames, "stop": stop, "frame_rate": 25.0,
                   "stats": stats, "backoff": Backoff(), "max_pixels": MAX_PIXELS}

    capture_frames(first, **every_frame)
    wait_until(lambda: len(recorder.sent) == 1, what="the first frame being sent")
    capture_frames(rest, **every_frame)  # the worker is still busy: the queue keeps the newest two
    release.set()
    capture_done.set()
    sender.join(60)
    stats.flush(alive=False)

    newest = [rest.started_at + index * rest.frame_gap_s for index in range(len(rest.pixels))][-2:]
    assert [at for _, at in recorder.sent[1:]] == pytest.approx(newest)
    assert counts.totals["dropped"] == len(rest.pixels) - 2
    assert counts.totals["sent"] == 3


def test_the_queue_drops_the_oldest():
    pixels = video_frames(SHOP)
    queue = DropOldestQueue(2)

    dropped = [queue.put(Frame(frame, float(index))) for index, frame in enumerate(pixels)]

    assert dropped == [False, False, True, True, True]
    assert [queue.get(0.1).captured_at, queue.get(0.1).captured_at] == [3.0, 4.0]
    assert queue.get(0.05) is None


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_frame():
    backoff = Backoff(initial_s=0.5, maximum_s=3.0)

    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def run_in_background(reader, counts: Counts, recorder: Recorder):
    stats = FrameStats(counts, interval_s=0.2)
    frames, stop = DropOldestQueue(2), threading.Event()
    threads = [
        threading.Thread(
            target=capture_frames,
            args=(reader, MotionGate(**EVERY_FRAME), frames, stop),
            kwargs={
                "frame_rate": 10.0, "stats": stats, "backoff": Backoff(0.1, 0.5), "max_pixels": MAX_PIXELS
            },
        ),
        threading.Thread(
            target=send_frames,
            args=(frames, recorder, stop),
            kwargs={
                "stats": stats, "max_in_flight": 2, "max_jpeg_bytes": 10_000_000, "in_flight_timeout_s": 1
            },
        ),
    ]
    for thread in threads:
        thread.start()
    return stop, threads, stats


def stop_all(stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)


def test_a_broken_mjpeg_stream_reconnects():
    jpegs = [cv2.imencode(".jpg", frame)[1].tobytes() for frame in video_frames(SHOP)]
    camera = MjpegCamera(jpegs)
    camera.start()
    counts, recorder = Counts(), Recorder()
    stop, threads, stats = run_in_background(OpenCVReader(parse_source(camera.url)), counts, recorder)
    try:
        wait_until(lambda: len(recorder.sent) >= 3, what="frames from the MJPEG camera")
        camera.stop()
        wait_until(lambda: stats.total("reconnects") >= 2, what="attempts to reconnect")
        sent_while_down = len(recorder.sent)
        camera.start()
        wait_until(lambda: len(recorder.sent) >= sent_while_down + 3, what="frames after the camera's return")
    finally:
        stop_all(stop, threads)
        camera.stop()

    assert counts.totals["reconnects"] >= 2
    assert counts.heartbeats, "a heartbeat while frames came"
    first = cv2.imdecode(np.frombuffer(recorder.sent[-1][0], np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (460, 820, 3)


def test_a_looping_clip_that_vanishes_comes_back(tmp_path):
    clip = tmp_path / "door.mp4"
    shutil.copy(SHOP, clip)
    counts, recorder = Counts(), Recorder()
    reader = OpenCVReader(parse_source(f"file://{clip}"), loop=True)
    stop, threads, stats = run_in_background(reader, counts, recorder)
    try:
        wait_until(lambda: stats.total("read") >= 12, what="the clip playing round more than twice")
        clip.unlink()
        wait_until(lambda: stats.total("reconnects") >= 2, what="attempts to reopen the missing clip")
        read_while_missing = stats.total("read")
        time.sleep(0.3)
        assert stats.total("read") == read_while_missing
        shutil.copy(SHOP, clip)
        wait_until(lambda: stats.total("read") >= read_while_missing + 5, what="frames once the clip is back")
    finally:
        stop_all(stop, threads)

    assert counts.totals["reconnects"] >= 2
    assert counts.totals.get("corrupt", 0) == 0


def test_a_clip_without_loop_plays_once_and_stops():
    reader = OpenCVReader(parse_source(str(SHOP)), paced=False)
    recorder = Recorder()

    counts = run_once(reader, recorder, gate=MotionGate(**EVERY_FRAME))

    assert reader.finished
    assert counts.totals["read"] == 5
    assert len(recorder.sent) == 5
    assert "reconnects" not in counts.totals
