"""Celery tasks: thin wrappers that take primary keys and call plain functions.

The only place the recognition package reaches the ORM; the access apps are imported inside each task body,
so importing this module loads no Django models.
"""

import os

from celery import shared_task
from django.db import InterfaceError, OperationalError

# A lost database connection or a deadlock victim is worth another try; a missing row or bad data is not.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(bind=True)
def ping(self) -> dict[str, str | int]:
    """Answer with the worker's name and process id, so a caller can tell which process ran it."""
    return {"pong": "ok", "worker": self.request.hostname, "pid": os.getpid()}


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT_DB_ERRORS,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=120,
    time_limit=150,
)
def enroll_sample(sample_id: int) -> str | None:
    """Compute and store the face code of one FaceSample; running it twice leaves the same result.

    Answers the sample's state afterwards, or None when the sample no longer exists.
    """
    from access.people.services import enroll_sample as enroll

    sample = enroll(sample_id)
    return None if sample is None else sample.state
