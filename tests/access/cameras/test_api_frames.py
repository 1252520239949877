"""Frame posting: only the device account bound to a camera may post, and only real images; answer 202.

Accepted frames are read back from the real broker's frames queue; rejected ones are counted as corrupt.
"""

import base64
import time
from io import BytesIO

import pytest
from PIL import Image
from rest_framework.test import APIClient

from access.cameras.models import Camera, CameraHealth
from access.cameras.services import issue_device_token
from recognition import tasks
from tests.access.cameras.conftest import FRAME_TASK
from tests.access.conftest import make_user, stored_files, token_client


@pytest.fixture
def device_client(camera) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_device_token(camera)}")
    return client


def _reencoded(photo_bytes: bytes, image_format: str) -> bytes:
    out = BytesIO()
    Image.open(BytesIO(photo_bytes)).save(out, image_format)
    return out.getvalue()


def _frame(photo_bytes: bytes) -> dict:
    return {"image_base64": base64.b64encode(photo_bytes).decode()}


def test_device_posts_frames_for_its_camera(device_client, camera, photo_bytes, frames_queue):
    posted_at = time.time()
    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 202
    assert response.json() == {"camera": camera.pk, "width": 250, "height": 250, "queued": True}
    [queued] = frames_queue()
    assert (queued.task, queued.camera_id, queued.jpeg) == (FRAME_TASK, camera.pk, photo_bytes)
    assert posted_at <= queued.captured_at <= time.time()
    assert queued.frame_id.startswith(f"{camera.pk}-")
    health = CameraHealth.objects.get(camera=camera)
    assert (health.frames_read, health.frames_sent, health.frames_corrupt) == (1, 1, 0)
    assert health.last_frame_at is not None


def test_each_frame_gets_its_own_id(device_client, camera, photo_bytes, frames_queue):
    for _ in range(2):
        device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    first, second = frames_queue()
    assert first.frame_id != second.frame_id


def test_multipart_frames_are_accepted(device_client, camera, photo_path, frames_queue):
    with photo_path.open("rb") as photo:
        response = device_client.post(
            f"/api/cameras/{camera.pk}/frames/", {"image": photo}, format="multipart"
        )

    assert response.status_code == 202
    assert [frame.jpeg for frame in frames_queue()] == [photo_path.read_bytes()]


def test_a_png_frame_travels_as_jpeg(device_client, camera, reencode, frames_queue):
    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(reencode("PNG")), format="json")

    assert response.status_code == 202
    [queued] = frames_queue()
    with Image.open(BytesIO(queued.jpeg)) as image:
        assert (image.format, image.size) == ("JPEG", (250, 250))


def test_without_a_pipeline_the_frame_is_accepted_but_not_queued(
    device_client, camera, photo_bytes, monkeypatch
):
    monkeypatch.delattr(tasks, "process_frame", raising=False)

    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 202
    assert response.json()["queued"] is False
    health = CameraHealth.objects.get(camera=camera)
    assert (health.frames_read, health.frames_sent) == (1, 0)


def test_a_device_cannot_post_for_another_camera(device_client, door, photo_bytes, frames_queue):
    other = Camera.objects.create(name="Yard", source_url="rtsp://10.0.0.8/s", door=door)

    response = device_client.post(f"/api/cameras/{other.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 403
    assert frames_queue() == []


def test_a_device_token_reads_nothing_else(device_client, camera):
    for path in [
        "/api/cameras/",
        f"/api/cameras/{camera.pk}/",
        "/api/people/",
        "/api/events/",
        "/api/alerts/",
    ]:
        assert device_client.get(path).status_code == 403, path


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_other_roles_cannot_post_frames(db, camera, photo_bytes, frames_queue, role):
    response = token_client(make_user(role)).post(
        f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json"
    )

    assert response.status_code == 403
    assert frames_queue() == []


def test_anonymous_is_401(camera, photo_bytes):
    assert (
        APIClient().post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json").status_code
        == 401
    )


def test_a_reissued_token_replaces_the_old_one(device_client, camera, photo_bytes):
    issue_device_token(camera)

    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 401
    assert Camera.objects.get(pk=camera.pk).device_account.groups.filter(name="device").exists()


def test_disabled_camera_is_409(device_client, camera, photo_bytes, frames_queue):
    Camera.objects.filter(pk=camera.pk).update(enabled=False)

    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 409
    assert frames_queue() == []


def test_unknown_camera_is_404(device_client, photo_bytes):
    assert (
        device_client.post("/api/cameras/424242/frames/", _frame(photo_bytes), format="json").status_code
        == 404
    )


def test_a_broken_frame_is_400(device_client, camera, photo_bytes, frames_queue):
    response = device_client.post(
        f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes[:2000]), format="json"
    )

    assert response.status_code == 400
    assert "truncated" in response.json()["image_base64"][0]
    assert frames_queue() == []


@pytest.mark.parametrize(
    ("make_frame", "complaint"),
    [
        (lambda photo: b"", "blank"),
        (lambda photo: photo[:2000], "truncated"),
        (lambda photo: _reencoded(photo, "GIF"), "not accepted"),
        (lambda photo: b"not a picture at all", "not an image"),
        (lambda photo: photo * 8, "limit"),
    ],
    ids=["empty", "truncated", "gif", "text", "huge"],
)
def test_corrupt_empty_and_huge_frames_are_counted_and_refused(
    device_client, camera, photo_bytes, frames_queue, media_root, settings, make_frame, complaint
):
    settings.FACEGATE_MAX_UPLOAD_BYTES = 6 * len(photo_bytes)
    frame = make_frame(photo_bytes)

    response = device_client.post(
        f"/api/cameras/{camera.pk}/frames/", {"image_base64": base64.b64encode(frame).decode()}, format="json"
    )

    assert response.status_code == 400
    assert complaint in str(response.json()).lower()
    assert frames_queue() == []
    assert stored_files(media_root) == []
    health = CameraHealth.objects.get(camera=camera)
    assert (health.frames_corrupt, health.frames_read, health.frames_sent) == (1, 0, 0)


def test_threshold_falls_back_to_the_global_default(settings, camera):
    settings.FACEGATE_MATCH_THRESHOLD = 0.55
    assert camera.effective_match_threshold == 0.55

    camera.match_threshold = 0.4
    assert camera.effective_match_threshold == 0.4
