"""Frame posting: only the device account bound to a camera may post, and only real images; answer 202."""

import base64

import pytest
from rest_framework.test import APIClient

from access.cameras.models import Camera
from access.cameras.services import issue_device_token
from recognition import tasks
from tests.access.conftest import make_user, token_client


@pytest.fixture
def device_client(camera) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_device_token(camera)}")
    return client


@pytest.fixture
def pipeline(monkeypatch) -> list[tuple]:
    frames: list[tuple] = []

    class FakeProcessFrame:
        @staticmethod
        def delay(*args):
            frames.append(args)

    monkeypatch.setattr(tasks, "process_frame", FakeProcessFrame, raising=False)
    return frames


def _frame(photo_bytes: bytes) -> dict:
    return {"image_base64": base64.b64encode(photo_bytes).decode()}


def test_device_posts_frames_for_its_camera(device_client, camera, photo_bytes, pipeline):
    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 202
    assert response.json() == {"camera": camera.pk, "width": 250, "height": 250, "queued": True}
    assert pipeline == [(camera.pk, base64.b64encode(photo_bytes).decode())]


def test_multipart_frames_are_accepted(device_client, camera, photo_path, pipeline):
    with photo_path.open("rb") as photo:
        response = device_client.post(
            f"/api/cameras/{camera.pk}/frames/", {"image": photo}, format="multipart"
        )

    assert response.status_code == 202


def test_without_a_pipeline_the_frame_is_accepted_but_not_queued(
    device_client, camera, photo_bytes, monkeypatch
):
    monkeypatch.delattr(tasks, "process_frame", raising=False)

    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 202
    assert response.json()["queued"] is False


def test_a_device_cannot_post_for_another_camera(device_client, door, photo_bytes, pipeline):
    other = Camera.objects.create(name="Yard", source_url="rtsp://10.0.0.8/s", door=door)

    response = device_client.post(f"/api/cameras/{other.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 403
    assert pipeline == []


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
def test_other_roles_cannot_post_frames(db, camera, photo_bytes, pipeline, role):
    response = token_client(make_user(role)).post(
        f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json"
    )

    assert response.status_code == 403
    assert pipeline == []


def test_anonymous_is_401(camera, photo_bytes):
    assert (
        APIClient().post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json").status_code
        == 401
    )


def test_a_reissued_token_replaces_the_old_one(device_client, camera, photo_bytes, pipeline):
    issue_device_token(camera)

    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 401
    assert Camera.objects.get(pk=camera.pk).device_account.groups.filter(name="device").exists()


def test_disabled_camera_is_409(device_client, camera, photo_bytes, pipeline):
    Camera.objects.filter(pk=camera.pk).update(enabled=False)

    response = device_client.post(f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes), format="json")

    assert response.status_code == 409
    assert pipeline == []


def test_unknown_camera_is_404(device_client, photo_bytes):
    assert (
        device_client.post("/api/cameras/424242/frames/", _frame(photo_bytes), format="json").status_code
        == 404
    )


def test_a_broken_frame_is_400(device_client, camera, photo_bytes, pipeline):
    response = device_client.post(
        f"/api/cameras/{camera.pk}/frames/", _frame(photo_bytes[:2000]), format="json"
    )

    assert response.status_code == 400
    assert "truncated" in response.json()["image_base64"][0]
    assert pipeline == []


def test_threshold_falls_back_to_the_global_default(settings, camera):
    settings.FACEGATE_MATCH_THRESHOLD = 0.55
    assert camera.effective_match_threshold == 0.55

    camera.match_threshold = 0.4
    assert camera.effective_match_threshold == 0.4
