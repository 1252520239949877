"""Enrollment: a pending sample becomes enrolled or rejected, once; without an engine it waits."""

import numpy as np
import pytest
from django.core.files.base import ContentFile

from access.core.images import decode_image
from access.people import services
from access.people.models import ConsentRequired, FaceSample
from access.people.services import SampleAnalysis
from recognition import tasks


@pytest.fixture
def pending_sample(person, photo_bytes) -> FaceSample:
    sample = FaceSample(person=person, width=250, height=250)
    sample.image.save("face.jpg", ContentFile(photo_bytes), save=False)
    sample.save()
    return sample


def test_enrollment_stores_the_code_the_engine_computed(pending_sample, photo_bytes):
    seen = []

    def analyse(pixels: np.ndarray, person_id: int) -> SampleAnalysis:
        seen.append((pixels, person_id))
        code = pixels.reshape(-1, 3)[:128, 0].astype(np.float32) / 255
        return SampleAnalysis(code=code, model_version="dlib-resnet-v1", quality={"sharpness": 0.8})

    sample = services.enroll_sample(pending_sample.pk, analyse)

    pixels, person_id = seen[0]
    assert pixels.shape == (250, 250, 3)
    assert person_id == pending_sample.person_id
    stored = FaceSample.objects.get(pk=pending_sample.pk)
    assert stored.state == FaceSample.State.ENROLLED
    assert stored.model_version == "dlib-resnet-v1"
    assert stored.quality == {"sharpness": 0.8}
    assert stored.enrolled_at is not None
    np.testing.assert_allclose(stored.face_code, pixels.reshape(-1, 3)[:128, 0] / 255, rtol=1e-6)
    assert sample.pk == stored.pk


def test_enrollment_records_a_rejection(pending_sample):
    services.enroll_sample(pending_sample.pk, lambda *_: SampleAnalysis(rejection_reason="no face found"))

    stored = FaceSample.objects.get(pk=pending_sample.pk)
    assert (stored.state, stored.rejection_reason, stored.face_code) == ("rejected", "no face found", None)


def test_enrollment_runs_once(pending_sample):
    calls = []

    def analyse(pixels, person_id):
        calls.append(1)
        return SampleAnalysis(rejection_reason="too blurred")

    services.enroll_sample(pending_sample.pk, analyse)
    services.enroll_sample(pending_sample.pk, analyse)

    assert len(calls) == 1


def test_a_duplicate_that_decides_first_wins_and_the_late_one_writes_nothing(pending_sample):
    def late(pixels, person_id):
        # While this slow analysis runs, a duplicate of the task enrolls the sample.
        services.enroll_sample(pending_sample.pk, lambda *_: SampleAnalysis(rejection_reason="too blurred"))
        return SampleAnalysis(rejection_reason="no face found")

    sample = services.enroll_sample(pending_sample.pk, late)

    stored = FaceSample.objects.get(pk=pending_sample.pk)
    assert (sample.rejection_reason, stored.rejection_reason) == ("too blurred", "too blurred")


def test_a_sample_deleted_during_its_analysis_is_not_written(pending_sample):
    def analyse(pixels, person_id):
        FaceSample.objects.filter(pk=pending_sample.pk).delete()
        return SampleAnalysis(rejection_reason="no face found")

    assert services.enroll_sample(pending_sample.pk, analyse) is None
    assert not FaceSample.objects.exists()


def test_without_an_engine_the_sample_stays_pending(pending_sample, caplog):
    services.enroll_sample(pending_sample.pk)

    assert FaceSample.objects.get(pk=pending_sample.pk).state == FaceSample.State.PENDING
    assert "stays pending" in caplog.text


def test_a_deleted_sample_is_skipped(db):
    assert services.enroll_sample(987654) is None


def test_add_sample_queues_enrollment_after_commit(
    person, photo_bytes, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.enroll_sample, "delay", lambda sample_id: queued.append(sample_id))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sample = services.add_sample(person, decode_image(photo_bytes))
    assert queued == []  # nothing reaches the broker before the commit
    for callback in callbacks:
        callback()

    assert queued == [sample.pk]
    assert sample.state == FaceSample.State.PENDING


def test_add_sample_refuses_without_consent(person_without_consent, photo_bytes, media_root):
    with pytest.raises(ConsentRequired):
        services.add_sample(person_without_consent, decode_image(photo_bytes))

    assert not FaceSample.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.*"))
