"""The database gallery feed: every path that changes the gallery is logged, in commit order, and a
gallery that follows it (or falls behind what is kept) ends up holding exactly the enrolled samples."""

import functools
import threading
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone

from access.celery import app
from access.core.images import decode_image, rgb_pixels
from access.people import services
from access.people.gallery import DatabaseFeed, prune_changes
from access.people.models import Consent, FaceSample, GalleryChange, GalleryHead, Person
from recognition import tasks
from recognition.gallery import Changes, Gallery
from recognition.pipeline import engine
from tests.access.conftest import IDENTITIES

THRESHOLD = 0.47


@pytest.fixture
def photos() -> Path:
    if not IDENTITIES.is_dir():
        pytest.skip(f"real face photos not found at {IDENTITIES} (set FACEGATE_FACEDATA)")
    return IDENTITIES


def consenting(name: str, external_id: str) -> Person:
    person = Person.objects.create(name=name, external_id=external_id)
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    return person


def upload(person: Person, photo: Path) -> FaceSample:
    return services.add_sample(person, decode_image(photo.read_bytes()))


@functools.cache
def analysis_of(photo: Path) -> services.SampleAnalysis:
    """The engine's real analysis of a photo, made once per run (no conflict check: the gallery is empty)."""
    return tasks.analyse_sample(engine(), Gallery(), rgb_pixels(photo.read_bytes()), person_id=0)


def enroll(person: Person, photo: Path) -> FaceSample:
    sample = services.enroll_sample(upload(person, photo).pk, lambda *_: analysis_of(photo))
    assert sample.state == FaceSample.State.ENROLLED, sample.rejection_reason
    return sample


def persons_matching(gallery: Gallery, sample: FaceSample) -> set[int]:
    (identification,) = gallery.identify(sample.face_code[np.newaxis], THRESHOLD)
    return {match.person_id for match in identification.matches}


@pytest.fixture
def gul(db, photos) -> tuple[Person, list[FaceSample]]:
    person = consenting("Abdullah Gul", "E-1")
    return person, [enroll(person, photos / "Abdullah_Gul" / name) for name in ("1.jpg", "10.jpg")]


@pytest.fixture
def sharpton(db, photos) -> tuple[Person, list[FaceSample]]:
    person = consenting("Al Sharpton", "E-2")
    return person, [enroll(person, photos / "Al_Sharpton" / "2.jpg")]


def test_head_is_one_read(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        DatabaseFeed().head()


def test_an_enrollment_is_logged_as_an_add_of_the_stored_code(gul, photos):
    feed = DatabaseFeed()
    person = consenting("Al Sharpton", "E-2")
    pending = upload(person, photos / "Al_Sharpton" / "2.jpg")
    before = feed.head()  # a pending sample is nothing to the gallery yet

    sample = enroll(person, photos / "Al_Sharpton" / "4.jpg")

    changes = feed.changes_since(before)
    assert changes.version == feed.head() > before
    [(sample_id, person_id, code)] = changes.adds
    assert (sample_id, person_id, changes.removes) == (sample.pk, person.pk, [])
    np.testing.assert_array_equal(code, FaceSample.objects.get(pk=sample.pk).face_code)
    assert pending.pk not in {row[0] for row in changes.adds}


def test_a_gallery_follows_enrollments_and_each_kind_of_erasure(gul, sharpton, photos, operator_client):
    (gul_person, gul_samples), (sharpton_person, [sharpton_sample]) = gul, sharpton
    feed, gallery = DatabaseFeed(), Gallery()
    assert gallery.sync(feed)
    assert len(gallery) == 3
    assert persons_matching(gallery, gul_samples[0]) == {gul_person.pk}
    assert persons_matching(gallery, sharpton_sample) == {sharpton_person.pk}

    assert operator_client.delete(f"/api/samples/{gul_samples[0].pk}/").status_code == 204
    assert gallery.sync(feed) and len(gallery) == 2

    services.withdraw_consent(sharpton_person.consent)
    assert gallery.sync(feed) and len(gallery) == 1

    assert operator_client.delete(f"/api/people/{gul_person.pk}/").status_code == 204
    assert gallery.sync(feed) and len(gallery) == 0
    assert not gallery.sync(feed)  # nothing new: one head read


def test_a_person_deleted_leaves_a_removal_for_each_sample_however_the_rows_went(gul):
    person, samples = gul
    person_id, sample_ids = person.pk, [sample.pk for sample in samples]
    feed = DatabaseFeed()
    before = feed.head()

    person.delete()  # cascades to the samples: no FaceSample row is left to say what was there

    removals = GalleryChange.objects.filter(op=GalleryChange.Op.REMOVE, version__gt=before)
    assert sorted(removals.values_list("sample_id", "person_id")) == [(pk, person_id) for pk in sample_ids]
    assert not FaceSample.objects.exists()
    assert feed.changes_since(before) == Changes(feed.head(), [], sample_ids)


def test_suspending_a_person_keeps_their_codes(gul):
    person, _ = gul
    feed = DatabaseFeed()
    before = feed.head()

    person.status = Person.Status.SUSPENDED
    person.save()

    assert feed.head() == before  # suspension is a decision rule at the door, not an erasure


def test_a_rejection_is_logged_as_a_removal_so_the_gallery_holds_only_enrolled_samples(gul, photos):
    feed = DatabaseFeed()
    sample = upload(consenting("Al Sharpton", "E-2"), photos / "Al_Sharpton" / "2.jpg")
    before = feed.head()

    services.enroll_sample(sample.pk, lambda *_: services.SampleAnalysis(rejection_reason="too blurred"))

    assert feed.changes_since(before) == Changes(feed.head(), [], [sample.pk])


def test_pruned_history_makes_a_gallery_behind_it_rebuild_from_a_snapshot(gul, sharpton):
    feed = DatabaseFeed()
    behind, current = Gallery(), Gallery()
    version, rows = feed.snapshot()
    behind.rebuild(rows, version)  # then Sharpton's second photo is enrolled
    sharpton_person, _ = sharpton
    late = enroll(sharpton_person, IDENTITIES / "Al_Sharpton" / "4.jpg")
    current.sync(feed)
    logged = GalleryChange.objects.update(created_at=timezone.now() - timedelta(days=8))

    assert prune_changes(timedelta(days=30)) == 0
    assert prune_changes(timedelta(days=7)) == logged == 4
    assert not GalleryChange.objects.exists()

    assert feed.changes_since(behind.version) is None
    assert feed.changes_since(current.version) == Changes(feed.head(), [], [])
    assert behind.sync(feed)
    assert behind.version == feed.head()
    assert persons_matching(behind, late) == {sharpton_person.pk}
    assert len(behind) == len(current) == 4


def test_a_gallery_from_another_database_is_rebuilt_not_patched(gul):
    feed = DatabaseFeed()
    stale = Gallery()
    stale.sync(feed)
    person, _ = gul
    # What a flushed and refilled database looks like: its versions start afresh, at a later moment.
    with transaction.atomic():
        person.delete()
        GalleryHead.objects.all().delete()
        GalleryChange.objects.all().delete()
    other = consenting("Al Sharpton", "E-2")
    enroll(other, IDENTITIES / "Al_Sharpton" / "2.jpg")

    assert feed.changes_since(stale.version) is None
    assert stale.sync(feed)
    assert len(stale) == 1 and stale.version == feed.head()


@pytest.mark.django_db(transaction=True)
def test_versions_become_visible_in_commit_order(photos, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    person = consenting("Abdullah Gul", "E-1")
    first, second, third = (upload(person, photos / "Abdullah_Gul" / f"{n}.jpg") for n in (1, 2, 3))
    third.delete()  # so that the head row exists: the writers below contend for its lock
    feed = DatabaseFeed()
    start = feed.head()
    first_logged, commit_first = threading.Event(), threading.Event()

    def first_writer() -> None:
        try:
            with transaction.atomic():
                FaceSample.objects.get(pk=first.pk).delete()
                first_logged.set()
                commit_first.wait(30)
        finally:
            connection.close()

    def second_writer() -> None:
        try:
            FaceSample.objects.get(pk=second.pk).delete()
        finally:
            connection.close()

    writers = [threading.Thread(target=first_writer), threading.Thread(target=second_writer)]
    writers[0].start()
    assert first_logged.wait(30)
    writers[1].start()
    writers[1].join(1)
    # The second writer waits for the head the first holds, so it cannot commit a version out of order,
    # and a reader sees neither change yet.
    assert writers[1].is_alive()
    assert feed.head() == start
    commit_first.set()
    for writer in writers:
        writer.join(30)

    log = list(GalleryChange.objects.filter(version__gt=start).values_list("version", "sample_id"))
    assert log == [(start + 1, first.pk), (start + 2, second.pk)]
    assert feed.head() == start + 2


def test_celery_beat_prunes_through_a_registered_task(gul, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-gallery-changes"]
    assert entry["task"] == tasks.prune_gallery_changes.name and entry["task"] in app.tasks
    kept = timedelta(days=settings.FACEGATE_GALLERY_HISTORY_DAYS)
    GalleryChange.objects.update(created_at=timezone.now() - kept)

    assert tasks.prune_gallery_changes() == 2
    assert not GalleryChange.objects.exists()


def test_a_feed_for_one_model_serves_only_that_models_codes(gul, sharpton):
    (_, [gul_first, gul_second]), (_, [sharpton_sample]) = gul, sharpton
    current = sharpton_sample.model_version
    feed = DatabaseFeed(current)
    gallery = Gallery()
    gallery.sync(feed)
    assert len(gallery) == 3

    FaceSample.objects.filter(pk=gul_second.pk).update(model_version="an older model")
    gul_second.refresh_from_db()
    gul_second.save()  # re-saved under its old model version: logged as a change

    gallery.sync(feed)
    assert len(gallery) == 2 and persons_matching(gallery, gul_second) == {gul_first.person_id}
    assert {sample_id for sample_id, _, _ in feed.snapshot()[1]} == {gul_first.pk, sharpton_sample.pk}
    assert len(DatabaseFeed().snapshot()[1]) == 3  # without a model version: every enrolled code
