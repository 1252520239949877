import base64
import logging
import time
import uuid
from datetime import datetime

import cv2
import numpy as np
from celery.result import AsyncResult
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token

from access.accounts.roles import Role
from access.core.errors import Conflict
from access.core.images import DecodedImage

from .models import Camera, CameraHealth

logger = logging.getLogger(__name__)

FRAMES_QUEUE = "frames"
JPEG_QUALITY = 90
# record_frame_stats names a counter as the field does, or without its `frames_` prefix (read=1, stale=1).
FRAME_COUNTERS = (
    "frames_read",
    "frames_sent",
    "frames_dropped",
    "frames_stale",
    "frames_corrupt",
    "frames_analysed",
    "reconnects",
)
# An increment of one of these counters also stamps the time of that stage.
STAMPED_COUNTERS = {"frames_read": "last_frame_at", "frames_analysed": "last_analysed_at"}


class CameraDisabled(Conflict):
    """Frames were posted for a camera that is switched off."""


@transaction.atomic
def issue_device_token(camera: Camera) -> str:
    """A fresh API token for the camera's device account (made on first use); older tokens stop working."""
    if camera.device_account is None:
        account, _ = get_user_model().objects.get_or_create(username=f"device-camera-{camera.pk}")
        account.set_unusable_password()
        account.save()
        account.groups.add(Group.objects.get(name=Role.DEVICE))
        camera.device_account = account
        camera.save(update_fields=["device_account"])
    Token.objects.filter(user=camera.device_account).delete()
    return Token.objects.create(user=camera.device_account).key


def _counter_field(name: str) -> str:
    field = name if name in FRAME_COUNTERS else f"frames_{name}"
    if field not in FRAME_COUNTERS:
        raise ValueError(f"{name!r} is not a camera frame counter; use one of {', '.join(FRAME_COUNTERS)}.")
    return field


def _update_health(camera_id: int, changes: dict) -> None:
    """Apply `changes` to the camera's health row, making the row first when the camera has none yet."""
    if CameraHealth.objects.filter(camera_id=camera_id).update(**changes):
        return
    if not Camera.objects.filter(pk=camera_id).exists():
        logger.info("Camera %s no longer exists; its frame figures are not kept.", camera_id)
        return
    try:
        with transaction.atomic():
            CameraHealth.objects.create(camera_id=camera_id)
    except IntegrityError:  # another process made the row in between
        pass
    CameraHealth.objects.filter(camera_id=camera_id).update(**changes)


def record_frame_stats(
    camera_id: int, *, region_searched_at: datetime | None = None, **increments: int
) -> None:
    """Add to the camera's frame counters, e.g. `record_frame_stats(7, read=5, dropped=1)`.

    Increments are atomic (F() expressions) so many workers can count at once; counting frames read or
    analysed also stamps last_frame_at or last_analysed_at. `region_searched_at`, when given, is the capture
    time of a frame searched over the camera's whole detection region.
    """
    changes: dict = {} if region_searched_at is None else {"region_searched_at": region_searched_at}
    now = timezone.now()
    for name, amount in increments.items():
        if not amount:
            continue
        field = _counter_field(name)
        changes[field] = F(field) + amount
        if field in STAMPED_COUNTERS:
            changes[STAMPED_COUNTERS[field]] = now
    if changes:
        _update_health(camera_id, changes)


def touch_heartbeat(camera_id: int, frames_per_second: float | None = None) -> None:
    """Say the camera service is alive and reading this camera (and, when given, at what rate)."""
    changes: dict = {"heartbeat_at": timezone.now()}
    if frames_per_second is not None:
        changes["frames_per_second"] = frames_per_second
    _update_health(camera_id, changes)


def jpeg_bytes(frame: DecodedImage) -> bytes:
    """The frame as a JPEG file: as posted when it is one, else encoded at the pipeline's quality."""
    if frame.format == "JPEG":
        return frame.data
    pixels = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
    return encode_jpeg(pixels)


def encode_jpeg(bgr_pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", bgr_pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode the frame as JPEG.")
    return encoded.tobytes()


def submit_frame(camera: Camera, frame: DecodedImage, captured_at: float | None = None) -> bool:
    """Queue a validated frame for the frame workers; False when no frame pipeline is installed to take it.

    `captured_at` (Unix time) is when the camera took the frame, so a worker can drop it once it is too old;
    a frame without one counts from now.
    """
    if not camera.enabled:
        raise CameraDisabled(f"Camera {camera} is disabled; enable it before posting frames.")
    captured_at = time.time() if captured_at is None else captured_at
    return enqueue_frame(camera.pk, jpeg_bytes(frame), captured_at) is not None


def enqueue_frame(camera_id: int, jpeg: bytes, captured_at: float) -> AsyncResult | None:
    """Put a JPEG frame on the frames queue: the task's result, or None when no frame pipeline exists."""
    from recognition import tasks

    process_frame = getattr(tasks, "process_frame", None)
    if process_frame is None:
        logger.warning("No frame pipeline is installed; a frame from camera %s was dropped.", camera_id)
        return None
    frame_b64 = base64.b64encode(jpeg).decode("ascii")
    frame_id = f"{camera_id}-{uuid.uuid4().hex}"
    # Celery would otherwise build the task's argument repr (for logs and monitoring) from the whole frame.
    described = f"({camera_id}, <JPEG of {len(jpeg)} bytes>, {captured_at}, {frame_id!r})"
    return process_frame.apply_async(
        args=[camera_id, frame_b64, captured_at, frame_id], queue=FRAMES_QUEUE, argsrepr=described
    )


def receive_pushed_frame(camera: Camera, frame: DecodedImage) -> bool:
    """A frame a camera posted itself: counted as read, and as sent once queued."""
    queued = submit_frame(camera, frame)
    record_frame_stats(camera.pk, read=1, sent=int(queued))
    return queued
