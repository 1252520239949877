from uuid import uuid4

from django.core.files.base import ContentFile
from django.db import transaction

from access.core.images import DecodedImage

from .models import Event


@transaction.atomic
def record_event(idempotency_key: str, snapshot: DecodedImage | None = None, **fields) -> tuple[Event, bool]:
    """Write the event once; a retry with the same key returns the stored event and False."""
    stored = Event.objects.filter(idempotency_key=idempotency_key).first()
    if stored is not None:
        return stored, False
    event = Event(idempotency_key=idempotency_key, **fields)
    if snapshot is not None:
        event.snapshot.save(f"{uuid4().hex}.{snapshot.extension}", ContentFile(snapshot.data), save=False)
    event.save()
    return event, True
