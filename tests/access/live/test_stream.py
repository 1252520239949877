"""The live stream over a real HTTP server: new events and alert changes arrive as they commit, a
reconnecting client resumes where it stopped, and only people who may read events get in."""

import threading
import urllib.request
from itertools import count

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction

from access.alerts.models import Alert
from access.alerts.services import raise_alert
from access.core.images import decode_image
from access.events.services import record_event
from access.live.models import Change
from tests.access.conftest import ANONYMOUS, make_user

from .sse import SSEStream, StreamClosed

# A ceiling for a message to arrive, not a speed goal: the stream polls every 0.1 s here.
ARRIVES_WITHIN_S = 3.0
_serial = count()

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token_for(db):
    from rest_framework.authtoken.models import Token

    def token(role: str) -> dict[str, str]:
        if role == ANONYMOUS:
            return {}
        return {"Authorization": f"Token {Token.objects.create(user=make_user(role)).key}"}

    return token


def new_event(camera, person=None, decision="deny", snapshot=None):
    event, _ = record_event(
        f"live-{next(_serial)}",
        snapshot=snapshot,
        camera=camera,
        door=camera.door,
        person=person,
        distance=0.41,
        decision=decision,
        reason="Blocklisted: trespass" if person else "Unknown face",
    )
    return event


def opened(stream: SSEStream) -> str:
    """Read the stream's opening (reconnect delay and cursor); its cursor."""
    assert stream.status == 200
    assert stream.response.getheader("Content-Type") == "text/event-stream"
    opening = stream.next_message(ARRIVES_WITHIN_S)
    assert opening.data == ""
    return opening.id


@pytest.mark.parametrize(("role", "status"), [(ANONYMOUS, 401), ("device", 403)])
def test_only_readers_of_events_may_watch(server, token_for, role, status):
    with SSEStream(server.url, headers=token_for(role)) as stream:
        assert stream.status == status


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_that_reads_events_may_watch(server, token_for, role):
    with SSEStream(server.url, headers=token_for(role)) as stream:
        assert opened(stream).isdigit()


def test_session_login_may_watch(server):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("viewer"))
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    with SSEStream(server.url, headers={"Cookie": cookie}) as stream:
        assert opened(stream).isdigit()


def test_a_committed_event_arrives_with_its_snapshot_link(server, token_for, camera, person, photo_bytes):
    viewer = token_for("viewer")
    with SSEStream(server.url, headers=viewer) as stream:
        opened(stream)
        event = new_event(camera, person, decision="alert", snapshot=decode_image(photo_bytes))

        message = stream.next_data_message(ARRIVES_WITHIN_S)

    assert message.event == "event"
    assert int(message.id) == Change.objects.get(topic="event", object_id=event.pk).pk
    body = message.json
    assert body == {
        "id": event.pk,
        "time": event.occurred_at.isoformat(),
        "decision": "alert",
        "person": {"id": person.pk, "name": "Abdullah Gul"},
        "door": {"id": camera.door.pk, "name": "Main entrance"},
        "camera": {"id": camera.pk, "name": "Main entrance cam"},
        "distance": 0.41,
        "reason": "Blocklisted: trespass",
        "snapshot_url": f"{server.url}/api/events/{event.pk}/snapshot/",
    }
    snapshot = urllib.request.Request(body["snapshot_url"], headers=viewer)
    with urllib.request.urlopen(snapshot, timeout=10) as response:
        assert response.read() == photo_bytes


def test_an_alert_and_its_acknowledgement_arrive(server, token_for, camera, person):
    with SSEStream(server.url, headers=token_for("viewer")) as stream:
        opened(stream)
        alert, _ = raise_alert(Alert.Kind.BLOCKLIST, event=new_event(camera, person, decision="alert"))
        assert stream.next_data_message(ARRIVES_WITHIN_S).event == "event"
        raised = stream.next_data_message(ARRIVES_WITHIN_S)

        acknowledge = urllib.request.Request(
            f"{server.url}/api/alerts/{alert.pk}/acknowledge/",
            method="POST",
            headers=token_for("operator"),
        )
        with urllib.request.urlopen(acknowledge, timeout=10) as response:
            assert response.status == 200
        acknowledged = stream.next_data_message(ARRIVES_WITHIN_S)

    assert (raised.event, raised.json["id"], raised.json["change"]) == ("alert", alert.pk, "created")
    assert raised.json["person"] == {"id": person.pk, "name": "Abdullah Gul"}
    assert (acknowledged.event, acknowledged.json["id"]) == ("alert", alert.pk)
    assert (acknowledged.json["change"], acknowledged.json["state"]) == ("acknowledged", "acknowledged")
    assert acknowledged.json["acknowledged_at"] is not None
    assert int(acknowledged.id) > int(raised.id)


def test_an_account_that_may_not_read_alerts_gets_the_events_without_them(server, camera, person):
    from rest_framework.authtoken.models import Token

    watcher = get_user_model().objects.create_user(username="events-only", password="unused-pw-123")
    watcher.user_permissions.add(
        Permission.objects.get(codename="view_event", content_type__app_label="events")
    )
    with SSEStream(
        server.url, headers={"Authorization": f"Token {Token.objects.create(user=watcher).key}"}
    ) as stream:
        opened(stream)
        raise_alert(Alert.Kind.BLOCKLIST, event=new_event(camera, person, decision="alert"))
        after = new_event(camera)
        received = [stream.next_data_message(ARRIVES_WITHIN_S) for _ in range(2)]

    assert [message.event for message in received] == ["event", "event"]
    assert received[1].json["id"] == after.pk


def test_a_reconnecting_client_misses_nothing(server, token_for, camera):
    viewer = token_for("viewer")
    with SSEStream(server.url, headers=viewer) as stream:
        opened(stream)
        seen = new_event(camera)
        last = stream.next_data_message(ARRIVES_WITHIN_S)
        assert last.json["id"] == seen.pk
    missed = [new_event(camera), new_event(camera)]
    raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=camera.door)

    with SSEStream(server.url, headers={**viewer, "Last-Event-ID": last.id}) as resumed:
        assert opened(resumed) == last.id
        replayed = [resumed.next_data_message(ARRIVES_WITHIN_S) for _ in range(3)]

    assert [(m.event, m.json["id"]) for m in replayed[:2]] == [("event", e.pk) for e in missed]
    assert (replayed[2].event, replayed[2].json["kind"]) == ("alert", "controller_offline")
    assert [int(m.id) for m in replayed] == sorted(int(m.id) for m in replayed)


def test_a_new_client_starts_at_the_present(server, token_for, camera):
    new_event(camera)

    with SSEStream(server.url, headers=token_for("viewer")) as stream:
        cursor = opened(stream)
        fresh = new_event(camera)
        assert stream.next_data_message(ARRIVES_WITHIN_S).json["id"] == fresh.pk

    assert int(cursor) == Change.objects.order_by("pk").first().pk


def test_a_resume_cursor_may_come_as_a_query_parameter(server, token_for, camera):
    earlier = new_event(camera)
    cursor = Change.objects.get(object_id=earlier.pk).pk - 1

    with SSEStream(server.url, f"/api/stream/?last_event_id={cursor}", token_for("viewer")) as stream:
        opened(stream)
        assert stream.next_data_message(ARRIVES_WITHIN_S).json["id"] == earlier.pk


def test_a_malformed_cursor_is_refused(server, token_for):
    with SSEStream(server.url, headers={**token_for("viewer"), "Last-Event-ID": "yesterday"}) as stream:
        assert stream.status == 400
        assert b"Last-Event-ID" in stream.response.read()


def test_an_idle_stream_sends_heartbeats_and_ends_after_its_lifetime(server, token_for, stream_timing):
    stream_timing.FACEGATE_STREAM_HEARTBEAT_SECONDS = 0.2
    stream_timing.FACEGATE_STREAM_MAX_SECONDS = 1.0

    with SSEStream(server.url, headers=token_for("viewer")) as stream:
        opened(stream)
        assert stream.next_message(ARRIVES_WITHIN_S).comments == ["heartbeat"]
        with pytest.raises(StreamClosed):
            while True:
                stream.next_message(ARRIVES_WITHIN_S)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serializes writing transactions itself")
def test_a_later_change_is_never_visible_before_an_earlier_one(camera):
    """A writer that draws its log id while another's transaction is open waits for that commit, so no
    reader sees the later id first."""
    cursor = Change.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    first_inserted, second_started, release_first = threading.Event(), threading.Event(), threading.Event()

    def first_writer() -> None:
        try:
            with transaction.atomic():
                new_event(camera)
                first_inserted.set()
                release_first.wait(10)
        finally:
            connection.close()

    def second_writer() -> None:
        try:
            first_inserted.wait(10)
            second_started.set()
            new_event(camera)
        finally:
            connection.close()

    writers = [threading.Thread(target=first_writer), threading.Thread(target=second_writer)]
    for writer in writers:
        writer.start()
    second_started.wait(10)
    writers[1].join(timeout=1.0)  # time for a second writer that does not wait to commit
    second_done_early = not writers[1].is_alive()
    visible_while_first_open = list(Change.objects.filter(pk__gt=cursor).values_list("pk", flat=True))
    release_first.set()
    for writer in writers:
        writer.join()

    assert not second_done_early, "the second writer committed while the first still held its log id"
    assert visible_while_first_open == []
    first, second = Change.objects.filter(pk__gt=cursor).order_by("pk")
    assert first.object_id < second.object_id
