"""Bulk enrollment through POST /api/people/enroll-zip/: good archives of real photos are stored and queued
(and enrolled by a real worker), files that are not usable photos are refused one by one, and bad archives
(not a zip, corrupt, unsafe paths, too many or too large files) are a 400 that stores nothing."""

import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from access.accounts.roles import Role
from access.people import bulk
from access.people.models import FaceSample, Person
from access.watchlists.models import AllowEntry
from recognition import tasks
from tests.access.conftest import FACEDATA, IDENTITIES, stored_files, token_client

URL = "/api/people/enroll-zip/"
SCENES = FACEDATA / "scenes"
WORKER_TIMEOUT_S = 240  # the worker's first task loads torch and the models on a shared CPU


@pytest.fixture(autouse=True)
def real_photos() -> None:
    if not IDENTITIES.is_dir() or not SCENES.is_dir():
        pytest.skip(f"real photos not found under {FACEDATA} (set FACEGATE_FACEDATA)")


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    sample_ids: list[int] = []
    monkeypatch.setattr(tasks.enroll_sample, "delay", lambda sample_id: sample_ids.append(sample_id))
    return sample_ids


def zip_of(members: dict[str, bytes | Path], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
    return out.getvalue()


def post(client, archive: bytes, **fields):
    upload = SimpleUploadedFile("people.zip", archive, content_type="application/zip")
    return client.post(URL, {"archive": upload, "consent_method": "electronic", **fields}, format="multipart")


GOOD = {
    "Abdullah_Gul/1.jpg": IDENTITIES / "Abdullah_Gul" / "1.jpg",
    "Abdullah_Gul/10.jpg": IDENTITIES / "Abdullah_Gul" / "10.jpg",
    "Al_Sharpton/2.jpg": IDENTITIES / "Al_Sharpton" / "2.jpg",
    "Al_Sharpton/notes.txt": b"not a photo",
    "readme.txt": b"photos of the staff",
}


def test_a_good_archive_stores_and_queues_every_photo_with_a_summary(
    operator_client, door, media_root, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(operator_client, zip_of(GOOD), allow_doors=[door.pk], document_reference="forms 2026")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"] == {"files": 5, "queued": 3, "already_stored": 0, "refused": 2}
    by_folder = {entry["folder"]: entry for entry in body["people"]}
    assert by_folder.keys() == {"Abdullah_Gul", "Al_Sharpton"}
    gul = by_folder["Abdullah_Gul"]
    assert gul["created"] and gul["person"]["name"] == "Abdullah Gul" and gul["person"]["has_consent"]
    assert gul["person"]["external_id"] == bulk.external_id_for("Abdullah_Gul")
    assert [(f["file"], f["state"], f["already_stored"]) for f in gul["files"]] == [
        ("Abdullah_Gul/1.jpg", "pending", False),
        ("Abdullah_Gul/10.jpg", "pending", False),
    ]
    notes = by_folder["Al_Sharpton"]["files"][1]
    assert (notes["state"], notes["sample"]) == ("refused", None)
    assert notes["reason"] == "The file is not an image Pillow can read."
    assert body["refused"] == [
        {
            "file": "readme.txt",
            "sample": None,
            "state": "refused",
            "reason": bulk.NOT_IN_PERSON_FOLDER,
            "already_stored": False,
        }
    ]
    samples = FaceSample.objects.all()
    assert sorted(queued) == sorted(sample.pk for sample in samples) and len(stored_files(media_root)) == 3
    for person in Person.objects.all():
        assert (person.consent.method, person.consent.document_reference) == ("electronic", "forms 2026")
        assert AllowEntry.objects.filter(person=person, door=door).exists()
    listed = operator_client.get(body["samples_url"]).json()
    assert sorted(item["id"] for item in listed["results"]) == sorted(sample.pk for sample in samples)


def test_the_same_archive_again_stores_nothing_twice(operator_client, media_root, queued):
    assert post(operator_client, zip_of(GOOD)).status_code == 201
    first = set(FaceSample.objects.values_list("pk", flat=True))

    response = post(operator_client, zip_of(GOOD))

    assert response.status_code == 200, response.content
    assert response.json()["counts"] == {"files": 5, "queued": 0, "already_stored": 3, "refused": 2}
    assert set(FaceSample.objects.values_list("pk", flat=True)) == first and Person.objects.count() == 2
    assert len(stored_files(media_root)) == 3


def test_a_zipped_folder_of_person_folders_is_read_the_same(operator_client, queued):
    wrapped = {f"staff/{name}": photo for name, photo in GOOD.items() if name != "readme.txt"}
    wrapped["__MACOSX/staff/._1.jpg"] = b"resource fork"

    response = post(operator_client, zip_of(wrapped))

    assert response.status_code == 201, response.content
    assert sorted(entry["folder"] for entry in response.json()["people"]) == ["Abdullah_Gul", "Al_Sharpton"]
    assert response.json()["counts"]["files"] == 4


def _corrupt(archive: bytes, photo: bytes) -> bytes:
    """The archive with bytes in the middle of the photo's stored data flipped."""
    middle = archive.index(photo[1000:1016]) if photo[1000:1016] in archive else len(archive) // 3
    return archive[:middle] + bytes(b ^ 0xFF for b in archive[middle : middle + 64]) + archive[middle + 64 :]


def _bad_archives() -> dict[str, tuple[bytes, str]]:
    photo = (IDENTITIES / "Abdullah_Gul" / "1.jpg").read_bytes() if IDENTITIES.is_dir() else b""
    stored = zip_of({"Abdullah_Gul/1.jpg": photo}, zipfile.ZIP_STORED)
    deflated = zip_of({"Abdullah_Gul/1.jpg": photo})
    return {
        "a photo, not a zip": (photo, "not a zip archive"),
        "cut short": (deflated[: len(deflated) // 2], "not a zip archive"),
        "bad CRC": (_corrupt(stored, photo), "corrupt"),
        "bad deflate stream": (_corrupt(deflated, photo), "corrupt"),
        # the good photo beside the bad path is not stored either
        "parent folder": (zip_of({"Abdullah_Gul/1.jpg": photo, "../evil/1.jpg": photo}), "outside"),
        "climbing back": (zip_of({"Abdullah_Gul/../../1.jpg": photo}), "outside"),
        "absolute path": (zip_of({"/etc/cron.d/1.jpg": photo}), "outside"),
        "empty": (zip_of({}), "no files"),
    }


@pytest.mark.parametrize("case", list(_bad_archives()))
def test_a_bad_archive_is_400_and_stores_nothing(operator_client, media_root, queued, case):
    archive, message = _bad_archives()[case]

    response = post(operator_client, archive)

    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["archive"])
    assert not Person.objects.exists() and not FaceSample.objects.exists()
    assert stored_files(media_root) == [] and queued == []


def test_too_many_files_or_too_many_bytes_unpacked_is_400(settings, operator_client, media_root, queued):
    settings.FACEGATE_MAX_ZIP_MEMBERS = 2
    response = post(operator_client, zip_of(GOOD))
    assert response.status_code == 400 and "holds 5 files; the limit is 2" in response.json()["archive"][0]

    settings.FACEGATE_MAX_ZIP_MEMBERS = 100
    settings.FACEGATE_MAX_ZIP_BYTES = 1_000_000  # a small bomb: 600 kB of zeros in each file packs to little
    bomb = zip_of({f"Someone/{n}.jpg": bytes(600_000) for n in range(3)})
    assert len(bomb) < 10_000
    response = post(operator_client, bomb)
    assert response.status_code == 400 and "once unpacked" in response.json()["archive"][0]
    assert not Person.objects.exists() and stored_files(media_root) == []


def test_a_file_over_the_photo_limit_is_refused_on_its_own(settings, operator_client, queued):
    big, small = IDENTITIES / "Barack_Obama", IDENTITIES / "Abdullah_Gul" / "1.jpg"
    big_photo = min(big.glob("*.jpg"), key=lambda path: -path.stat().st_size)
    settings.FACEGATE_MAX_UPLOAD_BYTES = small.stat().st_size + 1
    assert big_photo.stat().st_size > settings.FACEGATE_MAX_UPLOAD_BYTES

    response = post(operator_client, zip_of({"Barack_Obama/1.jpg": big_photo, "Abdullah_Gul/1.jpg": small}))

    assert response.status_code == 201, response.content
    files = {f["file"]: f for entry in response.json()["people"] for f in entry["files"]}
    assert files["Barack_Obama/1.jpg"]["reason"].startswith("larger than the limit of")
    assert files["Abdullah_Gul/1.jpg"]["state"] == "pending"


def test_only_operators_and_admins_may_enroll_by_archive(client_for, queued):
    for role, expected in [(Role.VIEWER, 403), (Role.DEVICE, 403), (Role.ADMIN, 201)]:
        assert post(client_for(role), zip_of(GOOD)).status_code == expected
    assert post(client_for("anonymous"), zip_of(GOOD)).status_code == 401


def test_consent_is_required(operator_client, queued):
    upload = SimpleUploadedFile("people.zip", zip_of(GOOD), content_type="application/zip")
    response = operator_client.post(URL, {"archive": upload}, format="multipart")

    assert response.status_code == 400 and "consent_method" in response.json()
    assert not Person.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_workers_enroll_an_archive_and_the_samples_url_shows_the_final_states(celery_worker, settings):
    settings.MEDIA_ROOT = str(celery_worker.media_root)
    # A superuser rather than a role: the roles' groups come from a migration that transactional tests flush.
    client = token_client(get_user_model().objects.create_superuser("hr", password="unused-pw-123"))
    archive = zip_of(
        {
            "Abdullah_Gul/1.jpg": IDENTITIES / "Abdullah_Gul" / "1.jpg",
            "Abdullah_Gul/party.jpg": SCENES / "group_3ddfa_trump_hillary.jpg",
            "Abdullah_Gul/cat.png": SCENES / "noface_skimage_chelsea.png",
        }
    )

    response = post(client, archive)
    assert response.status_code == 201, response.content
    samples_url = response.json()["samples_url"]

    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while True:
        samples = {s["id"]: s for s in client.get(samples_url).json()["results"]}
        if all(s["state"] != "pending" for s in samples.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    by_file = {f["file"]: samples[f["sample"]] for f in response.json()["people"][0]["files"]}
    assert by_file["Abdullah_Gul/1.jpg"]["state"] == "enrolled", celery_worker.log_tail()
    assert by_file["Abdullah_Gul/party.jpg"]["state"] == "rejected"
    assert by_file["Abdullah_Gul/party.jpg"]["rejection_reason"].startswith("2 faces found")
    cat = by_file["Abdullah_Gul/cat.png"]
    assert (cat["state"], cat["rejection_reason"]) == ("rejected", "no face found")
