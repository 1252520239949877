"""Celery through the real broker (Redis, as deploy/test.sh runs it) and a real worker process."""

import os

import pytest
from django.db import InterfaceError, OperationalError

from access.celery import app
from recognition import tasks
from tests.conftest import descends_from
from tests.facedata import FACEDATA


def test_broker_is_a_real_server():
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "redis"


def test_every_beat_entry_names_a_task_the_workers_register(settings):
    app.loader.import_default_modules()

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert names >= {"recognition.tasks.prune_gallery_changes", "access.live.tasks.prune_changes",
                     "access.doors.tasks.watch_doors"}
    assert names - set(app.tasks) == set()


def test_ping_round_trip_runs_in_the_worker_process(celery_worker):
    reply = tasks.ping.delay().get(timeout=30)

    assert reply["pong"] == "ok"
    assert reply["worker"] == celery_worker.name
    assert reply["pid"] != os.getpid()
    assert descends_from(reply["pid"], celery_worker.process.pid)


@pytest.mark.parametrize(
    ("task", "queue"),
    [(tasks.ping, "default"), (tasks.enroll_sample, "enrollment")],
)
def test_tasks_are_routed_to_their_queue(task, queue):
    assert app.amqp.router.route({}, task.name)["queue"].name == queue


def test_enrollment_survives_worker_loss_and_retries_transient_database_errors():
    task = app.tasks[tasks.enroll_sample.name]

    assert task.acks_late
    assert app.conf.task_reject_on_worker_lost
    assert set(task.autoretry_for) == {OperationalError, InterfaceError}
    assert task.retry_backoff and task.max_retries
    assert task.soft_time_limit < task.time_limit




@pytest.fixture
def real_photo() -> bytes:
    photo = FACEDATA / "identities" / "Abdullah_Gul" / "1.jpg"
    if not photo.is_file():
        pytest.skip(f"real face photos not found at {photo.parent} (set FACEGATE_FACEDATA)")
    return photo.read_bytes()


@pytest.mark.django_db(transaction=True)
def test_enrollment_runs_in_the_worker_on_the_committed_sample(celery_worker, settings, real_photo):
    from access.core.images import decode_image
    from access.people.models import Consent, FaceSample, Person
    from access.people.services import add_sample

    settings.MEDIA_ROOT = str(celery_worker.media_root)
    person = Person.objects.create(name="Abdullah Gul", external_id="E-2001")
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM, document_reference="HR file 2")
    sample = add_sample(person, decode_image(real_photo))

    # The worker answers from the test database: the sample it found, and nothing for an id never stored.
    assert tasks.enroll_sample.delay(sample.pk).get(timeout=60) == FaceSample.objects.get(pk=sample.pk).state
    assert tasks.enroll_sample.delay(sample.pk + 10_000).get(timeout=60) is None
