from collections.abc import Sequence
from uuid import uuid4

from django.core.files.base import ContentFile
from django.db import transaction

from access.core.images import DecodedImage

from .models import Event


def record_event(
    idempotency_key: str,
    snapshot: DecodedImage | None = None,
    face_box: Sequence[float] | None = None,
    **fields,
) -> tuple[Event, bool]:
    """Write the event once; a retry with the same key returns the stored event and False. `face_box` is the
    decided face's box in the snapshot's pixels (left, top, right, bottom)."""
    if face_box is not None and snapshot is None:
        raise ValueError("a face box is a place in the snapshot: record the snapshot with it")
    # No savepoint: within a decision's transaction the event stands or falls with it.
    with transaction.atomic(savepoint=False):
        stored = Event.objects.filter(idempotency_key=idempotency_key).first()
        if stored is not None:
            return stored, False
        event = Event(idempotency_key=idempotency_key, **fields)
        if snapshot is not None:
            if face_box is not None:
                event.face_box = box_fractions(face_box, snapshot.width, snapshot.height)
            event.snapshot.save(f"{uuid4().hex}.{snapshot.extension}", ContentFile(snapshot.data), save=False)
        event.save()
        return event, True


def box_fractions(box: Sequence[float], width: int, height: int) -> list[float]:
    """A box in pixels as fractions of the image's width and height, within the image."""
    left, top, right, bottom = box
    return [
        round(min(max(value / extent, 0.0), 1.0), 4)
        for value, extent in ((left, width), (top, height), (right, width), (bottom, height))
    ]
