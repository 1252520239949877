"""The change log behind the live stream, written in the same transaction as the change it records.

A reader that polls `id > cursor` must never see id N+1 committed while id N is still to come, or a client
resuming after N+1 would miss N. On PostgreSQL each writer takes one transaction-scoped advisory lock
before it draws its id, so ids are drawn and committed in the same order; the lock is held only from the
log entry to the end of that transaction. SQLite serializes writing transactions anyway.
"""

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from access.alerts.models import Alert
from access.events.models import Event

from .models import Change

# Any fixed 64-bit number, unique among the advisory locks this database's applications take.
CHANGE_LOG_LOCK = 0x46414345_4C495645  # "FACELIVE"


def record_new_event(sender: type[Event], instance: Event, created: bool, raw: bool = False, **_) -> None:
    if created and not raw:
        append(Change.Topic.EVENT, instance.pk, "created")


def record_alert_change(sender: type[Alert], instance: Alert, created: bool, raw: bool = False, **_) -> None:
    if not raw:
        append(Change.Topic.ALERT, instance.pk, "created" if created else instance.state)


def append(topic: str, object_id: int, action: str) -> Change:
    """Log a change; inside the caller's transaction, so it commits (or not) with the change itself (and no
    savepoint: a failure here fails the change too)."""
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHANGE_LOG_LOCK])
        return Change.objects.create(topic=topic, object_id=object_id, action=action)


def prune(keep: timedelta) -> int:
    """Forget changes older than `keep`: a client away longer starts again from the present. Returns how many
    were deleted."""
    deleted, _ = Change.objects.filter(at__lt=timezone.now() - keep).delete()
    return deleted
