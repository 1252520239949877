"""Celery through the real broker (Redis, as deploy/test.sh runs it) and a real worker process."""

import os

import pytest
from django.db import InterfaceError, OperationalError

from access.celery import app
from recognition import tasks


def test_broker_is_a_real_server():
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "redis"


def test_ping_round_trip_runs_in_the_worker_process(celery_worker):
    reply = tasks.ping.delay().get(timeout=30)

    assert reply["pong"] == "ok"
    assert reply["worker"] == celery_worker.name
    assert reply["pid"] != os.getpid()
    assert os.getpgid(reply["pid"]) == celery_worker.process.pid


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
