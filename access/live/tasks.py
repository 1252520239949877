from datetime import timedelta

from celery import shared_task
from django.conf import settings

from . import changes


@shared_task
def prune_changes() -> int:
    """Celery beat, hourly: forget live-stream changes past FACEGATE_STREAM_HISTORY_HOURS."""
    return changes.prune(timedelta(hours=settings.FACEGATE_STREAM_HISTORY_HOURS))
