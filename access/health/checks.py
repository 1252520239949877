"""Probes of the database, the Celery broker and the workers; each answers ok or why not, and never raises."""

from dataclasses import dataclass

from django.db import Error as DatabaseError
from django.db import connection
from kombu.exceptions import OperationalError as BrokerError

from access.celery import app

BROKER_CONNECT_TIMEOUT_S = 2.0
# The file-system broker polls once a second, so a shorter wait would miss a live worker there.
WORKER_PING_TIMEOUT_S = 1.5


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str | list[str]


def probe_database() -> Probe:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Probe(False, str(exc))
    return Probe(True, connection.vendor)


def probe_broker() -> Probe:
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_CONNECT_TIMEOUT_S)
            return Probe(True, broker.transport_cls)
    except BrokerError as exc:
        return Probe(False, str(exc))


def probe_workers() -> Probe:
    """A broadcast ping: every running worker answers, on Redis and on the file-system broker alike."""
    try:
        replies = app.control.ping(timeout=WORKER_PING_TIMEOUT_S)
    except BrokerError as exc:
        return Probe(False, str(exc))
    workers = sorted(name for reply in replies for name in reply)
    return Probe(bool(workers), workers or "no worker answered")
