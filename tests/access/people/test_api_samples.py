"""Photo upload for enrollment: good photos are stored encrypted and queued; bad input stores nothing."""

import base64

import pytest

from access.people.models import FaceSample
from recognition import tasks
from tests.access.conftest import stored_files


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    sample_ids: list[int] = []
    monkeypatch.setattr(tasks.enroll_sample, "delay", lambda sample_id: sample_ids.append(sample_id))
    return sample_ids


def _upload_url(person) -> str:
    return f"/api/people/{person.pk}/samples/"


def test_multipart_jpeg_is_stored_encrypted_and_queued(
    operator_client, person, photo_path, photo_bytes, media_root, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), photo_path.open("rb") as photo:
        response = operator_client.post(_upload_url(person), {"image": photo}, format="multipart")

    assert response.status_code == 201, response.content
    sample = FaceSample.objects.get()
    assert response.json()["state"] == "pending"
    assert (sample.width, sample.height, sample.person) == (250, 250, person)
    assert queued == [sample.pk]
    (on_disk,) = stored_files(media_root)
    assert photo_bytes[200:264] not in on_disk.read_bytes()

    image = operator_client.get(f"/api/samples/{sample.pk}/image/")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content) == photo_bytes


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
@pytest.mark.parametrize("as_data_url", [False, True])
def test_base64_json_png_and_webp(operator_client, person, reencode, queued, image_format, as_data_url):
    text = base64.b64encode(reencode(image_format)).decode()
    if as_data_url:
        text = f"data:image/{image_format.lower()};base64,{text}"

    response = operator_client.post(_upload_url(person), {"image_base64": text}, format="json")

    assert response.status_code == 201, response.content
    assert FaceSample.objects.get().image.name.endswith("." + image_format.lower())


def test_no_consent_is_a_conflict_and_stores_nothing(
    operator_client, person_without_consent, photo_bytes, media_root
):
    body = {"image_base64": base64.b64encode(photo_bytes).decode()}

    response = operator_client.post(_upload_url(person_without_consent), body, format="json")

    assert response.status_code == 409
    assert "consent" in response.json()["detail"]
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


def _b64(data: bytes) -> dict:
    return {"image_base64": base64.b64encode(data).decode()}


BAD_UPLOADS = {
    "text-file": (lambda photo, fmt: _b64(b"just some text, not a photo"), "not an image"),
    "truncated-jpeg": (lambda photo, fmt: _b64(photo[: len(photo) // 2]), "corrupt or truncated"),
    "corrupt-jpeg": (
        lambda photo, fmt: _b64(photo[:4000] + b"\xff" * 500 + photo[4500:]),
        "corrupt or truncated",
    ),
    "gif": (lambda photo, fmt: _b64(fmt("GIF")), "not accepted"),
    "base64-garbage": (
        lambda photo, fmt: {"image_base64": "@@@ definitely not base64 @@@"},
        "not valid base64",
    ),
    "wrong-type": (lambda photo, fmt: {"image_base64": {"nested": "object"}}, "Not a valid string"),
    "no-image": (lambda photo, fmt: {"note": "forgot the photo"}, "exactly one of"),
    "both-fields": (lambda photo, fmt: {**_b64(photo), "image": "x"}, "not a file"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_bad_uploads_are_400_and_store_nothing(
    operator_client, person, photo_bytes, reencode, media_root, case
):
    build_body, message = BAD_UPLOADS[case]

    response = operator_client.post(_upload_url(person), build_body(photo_bytes, reencode), format="json")

    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


def test_truncated_multipart_jpeg_is_400(operator_client, person, photo_bytes, media_root, tmp_path):
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(photo_bytes[:-300])

    with truncated.open("rb") as photo:
        response = operator_client.post(_upload_url(person), {"image": photo}, format="multipart")

    assert response.status_code == 400
    assert "truncated" in response.json()["image"][0]
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("as_multipart", [True, False])
def test_oversize_upload_is_400(
    settings, operator_client, person, photo_path, photo_bytes, media_root, as_multipart
):
    settings.FACEGATE_MAX_UPLOAD_BYTES = 4096

    if as_multipart:
        with photo_path.open("rb") as photo:
            response = operator_client.post(_upload_url(person), {"image": photo}, format="multipart")
    else:
        response = operator_client.post(_upload_url(person), _b64(photo_bytes), format="json")

    assert response.status_code == 400
    assert "the limit is 4096 bytes" in response.content.decode()
    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []


def test_too_many_pixels_is_400(settings, operator_client, person, photo_bytes):
    settings.FACEGATE_MAX_UPLOAD_PIXELS = 100 * 100

    response = operator_client.post(_upload_url(person), _b64(photo_bytes), format="json")

    assert response.status_code == 400
    assert "250x250 pixels" in response.content.decode()


def test_malformed_json_is_400(operator_client, person, media_root):
    response = operator_client.post(
        _upload_url(person), data='{"image_base64": "abc', content_type="application/json"
    )

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not FaceSample.objects.exists()


def test_unknown_person_is_404(operator_client, photo_bytes, db, media_root):
    response = operator_client.post("/api/people/999999/samples/", _b64(photo_bytes), format="json")

    assert response.status_code == 404
    assert stored_files(media_root) == []


def test_samples_list_per_person_and_delete_removes_the_file(
    operator_client, person, photo_bytes, media_root, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = operator_client.post(_upload_url(person), _b64(photo_bytes), format="json").json()
    assert [s["id"] for s in operator_client.get(_upload_url(person)).json()["results"]] == [created["id"]]
    assert operator_client.get("/api/people/999999/samples/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        assert operator_client.delete(f"/api/samples/{created['id']}/").status_code == 204

    assert not FaceSample.objects.exists()
    assert stored_files(media_root) == []
