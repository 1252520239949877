"""The camera service: one capture thread and one sender thread per enabled camera, kept in step with the
camera list (cameras enabled, disabled, deleted or edited are picked up without a restart)."""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection

from access.cameras import services
from access.cameras.models import Camera
from access.cameras.sources import parse_source

from .gate import MotionGate
from .loop import Backoff, DropOldestQueue, FrameStats, capture_frames, send_frames
from .reader import FrameReader, OpenCVReader

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0  # the doors treat a camera as down after a few seconds without one
THREAD_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CameraConfig:
    """What the threads of one camera are started with; a camera whose config changes is restarted."""

    camera_id: int
    name: str
    source_url: str
    loop: bool
    frame_rate: float

    @classmethod
    def of(cls, camera: Camera) -> "CameraConfig":
        return cls(camera.pk, camera.name, camera.source_url, camera.loop, camera.frame_rate)


@dataclass(frozen=True)
class ServiceOptions:
    queue_size: int = 2
    max_in_flight: int = 2
    refresh_s: float = 5.0


def report_health(camera_id: int, counters: dict[str, int], frames_per_second: float | None) -> None:
    """Write a camera's counters, and its heartbeat while it delivers frames, to CameraHealth."""
    try:
        services.record_frame_stats(camera_id, **counters)
        if frames_per_second is not None:
            services.touch_heartbeat(camera_id, frames_per_second=frames_per_second)
    except Exception:
        connection.close()  # a broken connection is opened afresh by the next report
        raise


def open_reader(config: CameraConfig) -> FrameReader:
    return OpenCVReader(parse_source(config.source_url), loop=config.loop)


class CameraWorker:
    """The capture and sender threads of one camera, sharing its frame queue, counters and stop event."""

    def __init__(self, config: CameraConfig, options: ServiceOptions) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.capture_done = threading.Event()
        self.frames = DropOldestQueue(options.queue_size)
        self.stats = FrameStats(partial(report_health, config.camera_id), interval_s=HEARTBEAT_INTERVAL_S)
        self._reader = open_reader(config)
        self._submit = partial(services.enqueue_frame, config.camera_id)
        self._options = options
        label = f"camera-{config.camera_id}"
        self._threads = [
            threading.Thread(target=self._capture, name=f"{label}-capture", daemon=True),
            threading.Thread(target=self._send, name=f"{label}-send", daemon=True),
        ]

    def start(self) -> None:
        logger.info("Camera %s (%s): starting.", self.config.camera_id, self.config.name)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(THREAD_STOP_TIMEOUT_S)
            if thread.is_alive():
                logger.warning("Thread %s did not stop within %.0f s.", thread.name, THREAD_STOP_TIMEOUT_S)
        logger.info("Camera %s (%s): stopped.", self.config.camera_id, self.config.name)

    def is_running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _capture(self) -> None:
        try:
            self._supervised(
                partial(
                    capture_frames,
                    self._reader,
                    MotionGate(),
                    self.frames,
                    self.stop_event,
                    frame_rate=self.config.frame_rate,
                    stats=self.stats,
                    backoff=Backoff(),
                    max_pixels=settings.FACEGATE_MAX_UPLOAD_PIXELS,
                    name=f"Camera {self.config.camera_id} ({self.config.name})",
                )
            )
        finally:
            self.capture_done.set()
            connection.close()

    def _send(self) -> None:
        try:
            self._supervised(
                partial(
                    send_frames,
                    self.frames,
                    self._submit,
                    self.stop_event,
                    stats=self.stats,
                    max_in_flight=self._options.max_in_flight,
                    max_jpeg_bytes=settings.FACEGATE_MAX_UPLOAD_BYTES,
                    in_flight_timeout_s=settings.FACEGATE_MAX_FRAME_AGE_S,
                    capture_done=self.capture_done,
                )
            )
        finally:
            connection.close()

    def _supervised(self, run: Callable[[], None]) -> None:
        """Run `run` to its end; after an unexpected error (broker or database away) log it, run it anew."""
        backoff = Backoff()
        while not self.stop_event.is_set():
            try:
                run()
                return
            except Exception:
                delay = backoff.next_delay()
                logger.exception("Camera %s: unexpected error; resuming in %.1f s.", self.config.name, delay)
                self.stop_event.wait(delay)


class CameraService:
    """Keeps one CameraWorker running per enabled camera."""

    def __init__(self, options: ServiceOptions | None = None) -> None:
        self.options = options or ServiceOptions()
        self.workers: dict[int, CameraWorker] = {}

    def sync(self) -> None:
        """Start workers for cameras newly enabled, stop those of cameras disabled, deleted or edited."""
        close_old_connections()
        wanted = {camera.pk: CameraConfig.of(camera) for camera in Camera.objects.filter(enabled=True)}
        for camera_id, worker in list(self.workers.items()):
            if wanted.get(camera_id) != worker.config:
                worker.stop()
                del self.workers[camera_id]
        for camera_id, config in wanted.items():
            if camera_id in self.workers:
                continue
            try:
                worker = CameraWorker(config, self.options)
            except ValidationError as exc:  # a row written before its source was validated
                logger.error("Camera %s (%s) is not started: %s", camera_id, config.name, exc.messages[0])
                continue
            worker.start()
            self.workers[camera_id] = worker

    def run(self, stop: threading.Event) -> None:
        """Follow the camera list every `refresh_s` until `stop` is set; then stop every camera."""
        logger.info("Camera service: following the camera list every %.0f s.", self.options.refresh_s)
        try:
            while not stop.is_set():
                self.sync()
                stop.wait(self.options.refresh_s)
        finally:
            for worker in self.workers.values():
                worker.stop()
            self.workers.clear()
            logger.info("Camera service: stopped.")
