"""Enrollment by the task body, in this process, on real photos: the engine's verdict, the conflict check
against the gallery the worker keeps, and idempotence."""

from pathlib import Path

import numpy as np
import pytest

from access.core.images import decode_image, rgb_pixels
from access.people import services
from access.people.gallery import DatabaseFeed
from access.people.models import Consent, FaceSample, GalleryChange, Person
from recognition import tasks
from recognition.pipeline import Engine, engine
from tests.access.conftest import FACEDATA, IDENTITIES

SCENES = FACEDATA / "scenes"
pytestmark = pytest.mark.usefixtures("worker_gallery")  # each test starts as a fresh worker does



def consenting(name: str, external_id: str) -> Person:
    person = Person.objects.create(name=name, external_id=external_id)
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    return person


@pytest.fixture
def gul(db) -> Person:
    return consenting("Abdullah Gul", "E-1")


def enroll(person: Person, photo: Path) -> FaceSample:
    """Upload as the API does, then run the enrollment task's body here."""
    sample = services.add_sample(person, decode_image(photo.read_bytes()))
    state = tasks.enroll_sample(sample.pk)
    sample = FaceSample.objects.get(pk=sample.pk)
    assert state == sample.state
    return sample


def test_a_good_frontal_photo_is_enrolled_with_its_code(gul):
    photo = IDENTITIES / "Abdullah_Gul" / "1.jpg"

    sample = enroll(gul, photo)

    assert sample.state == FaceSample.State.ENROLLED and sample.rejection_reason == ""
    assert sample.model_version == Engine.model_version and sample.enrolled_at is not None
    [face] = engine().analyse(rgb_pixels(photo.read_bytes()))
    np.testing.assert_allclose(sample.face_code, face.code, atol=1e-6)
    assert sample.quality["face_count"] == 1 and sample.quality["face_size"] >= 80
    assert {"sharpness", "yaw", "roll"} <= sample.quality.keys()


def test_a_group_photo_is_rejected_for_its_face_count(gul):
    sample = enroll(gul, SCENES / "group_3ddfa_trump_hillary.jpg")

    assert sample.state == FaceSample.State.REJECTED
    assert sample.rejection_reason.startswith("2 faces found")
    assert sample.face_code is None and sample.quality["face_count"] == 2


def test_a_photo_without_a_face_is_rejected(gul):
    sample = enroll(gul, SCENES / "noface_skimage_chelsea.png")  # a cat

    assert (sample.state, sample.rejection_reason) == (FaceSample.State.REJECTED, "no face found")
    assert sample.face_code is None


def test_the_same_persons_second_photo_is_enrolled(gul):
    first = enroll(gul, IDENTITIES / "Abdullah_Gul" / "1.jpg")
    second = enroll(gul, IDENTITIES / "Abdullah_Gul" / "7.jpg")

    assert (first.state, second.state) == (FaceSample.State.ENROLLED, FaceSample.State.ENROLLED)
    assert 0 < np.linalg.norm(first.face_code - second.face_code) < engine().config.match_threshold


def test_a_face_too_close_to_another_persons_samples_is_rejected_naming_them(gul):
    photo = IDENTITIES / "Abdullah_Gul" / "1.jpg"
    enrolled = enroll(gul, photo)
    impostor = consenting("Not Abdullah Gul", "E-2")

    sample = enroll(impostor, photo)

    assert sample.state == FaceSample.State.REJECTED and sample.face_code is None
    assert f"person {gul.pk}'s samples" in sample.rejection_reason
    assert "match threshold" in sample.rejection_reason
    assert FaceSample.objects.get(pk=enrolled.pk).state == FaceSample.State.ENROLLED


@pytest.mark.parametrize(
    "photo", [IDENTITIES / "Abdullah_Gul" / "1.jpg", SCENES / "group_3ddfa_trump_hillary.jpg"]
)
def test_running_the_task_again_on_a_decided_sample_changes_nothing(gul, photo):
    sample = enroll(gul, photo)
    head, logged = DatabaseFeed().head(), GalleryChange.objects.count()

    assert tasks.enroll_sample(sample.pk) == sample.state

    again = FaceSample.objects.get(pk=sample.pk)
    decided = ("state", "rejection_reason", "quality", "face_code_data", "model_version", "enrolled_at")
    assert [getattr(again, name) for name in decided] == [getattr(sample, name) for name in decided]
    assert (DatabaseFeed().head(), GalleryChange.objects.count()) == (head, logged)


def test_two_workers_enrolling_one_face_for_two_people_enroll_it_only_once(gul, worker_gallery):
    """Both analyses run against a gallery without the other's face; the re-check under the gallery's write
    lock sees what the other worker enrolled meanwhile."""
    photo = decode_image((IDENTITIES / "Abdullah_Gul" / "1.jpg").read_bytes())
    first = services.add_sample(gul, photo)
    second = services.add_sample(consenting("Someone Else", "E-2"), photo)

    def analyse_while_another_worker_enrolls_the_first(pixels: np.ndarray, person_id: int):
        analysis = tasks.analyse_sample(engine(), tasks.enroll_sample.synced_gallery(), pixels, person_id)
        assert analysis.rejection_reason == ""  # the first sample is not in the gallery yet
        assert tasks.enroll_sample(first.pk) == FaceSample.State.ENROLLED
        return analysis

    def recheck(code: np.ndarray, person_id: int) -> str:
        return engine().conflict_reason(tasks.enroll_sample.synced_gallery(), code, person_id)

    decided = services.enroll_sample(second.pk, analyse_while_another_worker_enrolls_the_first, recheck)

    assert decided.state == FaceSample.State.REJECTED and decided.face_code is None
    assert f"person {gul.pk}'s samples" in decided.rejection_reason


def test_a_sample_that_no_longer_exists_answers_none(db):
    assert tasks.enroll_sample(987654) is None


def test_the_worker_saves_the_gallery_it_built_and_the_next_process_starts_from_it(gul, worker_gallery):
    sample = enroll(gul, IDENTITIES / "Abdullah_Gul" / "1.jpg")
    feed = DatabaseFeed()
    saved = worker_gallery / tasks.GALLERY_FILE_NAME

    gallery = tasks.open_gallery(saved, feed)  # a new process: builds from the database, saves

    assert saved.is_file() and len(gallery) == 1
    stored = saved.read_bytes()  # face codes are encrypted at rest: no zip archive, no code's float bytes
    assert not stored.startswith(b"PK") and sample.face_code.tobytes()[:16] not in stored
    enroll(gul, IDENTITIES / "Abdullah_Gul" / "10.jpg")
    restarted = tasks.open_gallery(saved, feed)  # loads the save and catches up on the change
    assert len(restarted) == 2 and restarted.version == feed.head()
    (identification,) = restarted.identify(sample.face_code[np.newaxis], engine().config.match_threshold)
    assert [match.person_id for match in identification.matches] == [gul.pk]


def test_a_corrupt_saved_gallery_is_rebuilt_from_the_database(gul, worker_gallery, caplog):
    enroll(gul, IDENTITIES / "Abdullah_Gul" / "1.jpg")
    saved = worker_gallery / tasks.GALLERY_FILE_NAME
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"not a gallery")

    gallery = tasks.open_gallery(saved, DatabaseFeed())

    assert len(gallery) == 1 and "Building the gallery from the database" in caplog.text
