"""Erasure through the API reaches a real Celery worker process by its next search.

Real PostgreSQL, Redis and `celery worker` (tests/conftest.py): photos uploaded through the API are enrolled
by the worker, which then identifies probe photos; once a person is deleted through the API, the worker's
next identification no longer finds them, while everyone else still matches.
"""

import base64
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from access.people.models import Consent, FaceSample, Person
from recognition import tasks
from tests.access.conftest import IDENTITIES, token_client

TASK_TIMEOUT_S = 180  # the worker's first task loads torch and the models on a shared CPU


def consenting(name: str, external_id: str) -> Person:
    person = Person.objects.create(name=name, external_id=external_id)
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    return person


def persons_in(photo: Path) -> set[int]:
    """Whom the worker finds in the photo."""
    image = base64.b64encode(photo.read_bytes()).decode()
    faces = tasks.identify_image.delay(image).get(timeout=TASK_TIMEOUT_S)
    return {match["person_id"] for face in faces for match in face["matches"]}


@pytest.mark.django_db(transaction=True)
def test_an_erased_person_stops_matching_in_the_worker_at_its_next_search(celery_worker, settings):
    if not IDENTITIES.is_dir():
        pytest.skip(f"real face photos not found at {IDENTITIES} (set FACEGATE_FACEDATA)")
    settings.MEDIA_ROOT = str(celery_worker.media_root)
    # A superuser rather than a role: the roles' groups come from a migration that transactional tests flush.
    client = token_client(get_user_model().objects.create_superuser("dpo", password="unused-pw-123"))
    gul, sharpton = consenting("Abdullah Gul", "E-1"), consenting("Al Sharpton", "E-2")
    uploads = {gul: ["1.jpg", "10.jpg"], sharpton: ["2.jpg", "4.jpg"]}
    folders = {gul: IDENTITIES / "Abdullah_Gul", sharpton: IDENTITIES / "Al_Sharpton"}

    sample_ids = []
    for person, names in uploads.items():
        for name in names:
            with (folders[person] / name).open("rb") as photo:
                response = client.post(
                    f"/api/people/{person.pk}/samples/", {"image": photo}, format="multipart"
                )
            assert response.status_code == 201, response.content
            sample_ids.append(response.json()["id"])
    started = time.monotonic()
    # The upload queued each enrollment; a duplicate of each, queued behind it, answers once both ran.
    states = [tasks.enroll_sample.delay(sample_id).get(timeout=TASK_TIMEOUT_S) for sample_id in sample_ids]
    enrolled_s = time.monotonic() - started
    assert states == [FaceSample.State.ENROLLED] * 4, list(FaceSample.objects.values("rejection_reason"))

    gul_probe, sharpton_probe = folders[gul] / "2.jpg", folders[sharpton] / "3.jpg"
    assert persons_in(gul_probe) == {gul.pk}
    started = time.monotonic()
    assert persons_in(sharpton_probe) == {sharpton.pk}
    round_trip_s = time.monotonic() - started

    assert client.delete(f"/api/people/{gul.pk}/").status_code == 204
    erased = time.monotonic()
    assert persons_in(gul_probe) == set()
    erasure_to_miss_s = time.monotonic() - erased
    assert persons_in(sharpton_probe) == {sharpton.pk}

    print(
        f"\nworker: 4 photos enrolled in {enrolled_s:.2f} s (first includes loading the engine); identify "
        f"round trip {round_trip_s * 1000:.0f} ms; delete committed -> worker's answer without the person "
        f"{erasure_to_miss_s * 1000:.0f} ms"
    )
