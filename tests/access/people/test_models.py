"""Rules the database and the models enforce for people, consent and samples."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from access.people import services
from access.people.models import ConsentRequired, FaceSample, Person
from tests.access.conftest import stored_files

CODE = np.linspace(-0.2, 0.2, 128, dtype=np.float32)


def _sample(person: Person, photo_bytes: bytes, **fields) -> FaceSample:
    sample = FaceSample(person=person, width=250, height=250, **fields)
    sample.image.save("face.jpg", ContentFile(photo_bytes), save=False)
    return sample


def test_external_id_is_unique_in_the_database(person):
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(name="Someone else", external_id=person.external_id)


def test_status_outside_the_choices_is_refused_by_the_database(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(name="X", external_id="E-9", status="retired")


def test_no_face_code_without_consent(person_without_consent, photo_bytes):
    sample = _sample(person_without_consent, photo_bytes, model_version="v1", state=FaceSample.State.ENROLLED)
    sample.face_code = CODE

    with pytest.raises(ValidationError, match="not consented"):
        sample.full_clean()
    with pytest.raises(ConsentRequired):
        sample.save()
    assert not FaceSample.objects.exists()


def test_face_code_with_consent_is_stored(person, photo_bytes):
    sample = _sample(person, photo_bytes, model_version="v1", state=FaceSample.State.ENROLLED)
    sample.face_code = CODE
    sample.full_clean()
    sample.save()

    np.testing.assert_array_equal(FaceSample.objects.get().face_code, CODE)


def test_a_pending_sample_needs_no_consent_check_to_exist(person_without_consent, photo_bytes):
    _sample(person_without_consent, photo_bytes).save()

    assert FaceSample.objects.get().face_code is None


def test_rejected_needs_a_reason(person, photo_bytes):
    sample = _sample(person, photo_bytes, state=FaceSample.State.REJECTED)

    with pytest.raises(ValidationError, match="rejection reason"):
        sample.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        sample.save()


def test_enrolled_needs_a_code_and_its_model_version(person, photo_bytes):
    with pytest.raises(IntegrityError), transaction.atomic():
        _sample(person, photo_bytes, state=FaceSample.State.ENROLLED).save()

    sample = _sample(person, photo_bytes, state=FaceSample.State.ENROLLED)
    sample.face_code = CODE
    with pytest.raises(IntegrityError), transaction.atomic():
        sample.save()


def test_withdrawing_consent_erases_photos_and_codes(
    person, photo_bytes, media_root, django_capture_on_commit_callbacks
):
    sample = _sample(person, photo_bytes, model_version="v1", state=FaceSample.State.ENROLLED)
    sample.face_code = CODE
    sample.save()
    assert len(stored_files(media_root)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw_consent(person.consent)

    assert not FaceSample.objects.exists()
    assert not Person.objects.get().has_consent
    assert stored_files(media_root) == []
