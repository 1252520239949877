"""Events are written once per idempotency key; their snapshots are encrypted at rest."""

import pytest
from django.db import IntegrityError, transaction

from access.alerts.services import raise_alert
from access.core.images import decode_image
from access.events.models import Event
from access.events.services import record_event
from tests.access.conftest import stored_files


def test_a_retried_task_writes_the_event_once(camera, door, person, photo_bytes, media_root):
    fields = {
        "camera": camera,
        "door": door,
        "person": person,
        "distance": 0.31,
        "decision": "grant",
        "reason": "Allowed at Main entrance",
    }

    first, created = record_event("frame-17:face-0", snapshot=decode_image(photo_bytes), **fields)
    again, created_again = record_event("frame-17:face-0", snapshot=decode_image(photo_bytes), **fields)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Event.objects.count() == 1
    (on_disk,) = stored_files(media_root)
    assert photo_bytes[300:364] not in on_disk.read_bytes()
    with Event.objects.get().snapshot.open() as snapshot:
        assert snapshot.read() == photo_bytes


def test_idempotency_key_is_unique_in_the_database(camera):
    Event.objects.create(idempotency_key="k", camera=camera, decision="deny", reason="Unknown face")

    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(idempotency_key="k", camera=camera, decision="deny", reason="Unknown face")


@pytest.mark.parametrize(
    "fields",
    [{"decision": "maybe"}, {"decision": "grant"}, {"decision": "deny", "distance": -0.1}],
    ids=["unknown-decision", "grant-without-person", "negative-distance"],
)
def test_event_constraints(camera, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(idempotency_key="k", camera=camera, reason="r", **fields)


def test_an_event_raises_one_alert(camera):
    event, _ = record_event("k", camera=camera, decision="alert", reason="Blocklisted: trespass")

    first, created = raise_alert("blocklist", event=event)
    again, created_again = raise_alert("blocklist", event=event)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk


def test_snapshot_endpoint_decrypts_for_viewers(client_for, camera, photo_bytes):
    event, _ = record_event(
        "k", snapshot=decode_image(photo_bytes), camera=camera, decision="deny", reason="r"
    )

    viewer = client_for("viewer")
    listed = viewer.get("/api/events/").json()["results"][0]
    response = viewer.get(listed["snapshot_url"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == photo_bytes
