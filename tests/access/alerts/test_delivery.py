"""Alert delivery: signed webhooks to a real local HTTP server, e-mail by Django's mail, each sent once."""

import hashlib
import hmac
import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from access.alerts.delivery import deliver
from access.alerts.models import Alert, AlertDelivery
from access.alerts.services import raise_alert
from access.alerts.tasks import deliver_alert
from access.core.images import decode_image
from access.events.services import record_event

from .receiver import webhook_receiver

SECRET = "test-webhook-secret-0123456789"


@pytest.fixture
def delivery_settings(settings):
    settings.FACEGATE_WEBHOOK_SECRET = SECRET
    settings.FACEGATE_PUBLIC_URL = "https://facegate.example.org"
    settings.FACEGATE_ALERT_EMAILS = ["security@example.org"]
    settings.FACEGATE_ALERT_WEBHOOK_URLS = []
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def blocklist_alert(camera, person, photo_bytes) -> Alert:
    event, _ = record_event(
        "frame-9:track-2", snapshot=decode_image(photo_bytes), camera=camera, door=camera.door, person=person,
        distance=0.28, decision="alert", reason="Blocklisted: trespass",
    )
    return raise_alert(Alert.Kind.BLOCKLIST, event=event)[0]


def test_webhook_body_is_signed_and_names_event_person_camera_door(
    delivery_settings, blocklist_alert, client_for, photo_bytes
):
    with webhook_receiver() as receiver:
        delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        assert deliver(blocklist_alert.pk) == []

    (request,) = receiver.requests
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-FaceGate-Signature"], f"sha256={expected}")
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert request.headers["X-FaceGate-Timestamp"] == body["sent_at"]
    event, person = blocklist_alert.event, blocklist_alert.person
    assert body["kind"] == body["alert"]["kind"] == "blocklist"
    assert body["alert"]["id"] == blocklist_alert.pk
    assert body["alert"]["url"] == f"https://facegate.example.org/api/alerts/{blocklist_alert.pk}/"
    assert body["event"] == {
        "id": event.pk, "decision": "alert", "distance": 0.28, "reason": "Blocklisted: trespass",
        "time": event.occurred_at.isoformat(),
    }
    assert body["person"] == {"id": person.pk, "name": "Abdullah Gul", "external_id": "E-1001"}
    assert body["camera"] == {"id": blocklist_alert.camera.pk, "name": "Main entrance cam"}
    assert body["door"] == {"id": blocklist_alert.door.pk, "name": "Main entrance"}
    snapshot_path = f"/api/events/{event.pk}/snapshot/"
    assert body["snapshot_url"] == f"https://facegate.example.org{snapshot_path}"
    # The link is the authorised snapshot view: a viewer gets the photo, nobody else does.
    assert client_for("anonymous").get(snapshot_path).status_code == 401
    assert b"".join(client_for("viewer").get(snapshot_path).streaming_content) == photo_bytes


def test_a_forged_body_does_not_match_the_signature(delivery_settings, blocklist_alert):
    with webhook_receiver() as receiver:
        delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        deliver(blocklist_alert.pk)

    (request,) = receiver.requests
    forged = request.body.replace(b'"blocklist"', b'"missing"')
    assert forged != request.body
    forged_signature = hmac.new(SECRET.encode(), forged, hashlib.sha256).hexdigest()
    assert request.headers["X-FaceGate-Signature"] != f"sha256={forged_signature}"


def test_email_reaches_each_recipient(delivery_settings, blocklist_alert):
    delivery_settings.FACEGATE_ALERT_EMAILS = ["security@example.org", "desk@example.org"]

    deliver(blocklist_alert.pk)

    assert sorted(message.to[0] for message in mail.outbox) == ["desk@example.org", "security@example.org"]
    message = mail.outbox[0]
    assert message.subject == "[FaceGate] Blocklisted person: Abdullah Gul at Main entrance"
    assert "E-1001" in message.body
    assert f"https://facegate.example.org/api/events/{blocklist_alert.event_id}/snapshot/" in message.body


def test_a_task_run_twice_sends_each_delivery_once(delivery_settings, blocklist_alert):
    with webhook_receiver() as receiver:
        delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        deliver_alert.apply(args=[blocklist_alert.pk]).get()
        deliver_alert.apply(args=[blocklist_alert.pk]).get()

    assert len(receiver.requests) == 1
    assert len(mail.outbox) == 1
    deliveries = AlertDelivery.objects.filter(alert=blocklist_alert)
    assert sorted(deliveries.values_list("channel", "status", "attempts")) == [
        ("email", "sent", 1),
        ("webhook", "sent", 1),
    ]


def test_a_failing_webhook_is_recorded_and_retried(delivery_settings, blocklist_alert):
    delivery_settings.FACEGATE_ALERT_EMAILS = []
    with webhook_receiver(statuses=[503]) as receiver:
        delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        unfinished = deliver(blocklist_alert.pk)
        failed = AlertDelivery.objects.get()
        assert [d.pk for d in unfinished] == [failed.pk]
        assert (failed.status, failed.attempts) == ("failed", 1)
        assert "503" in failed.last_error

        assert deliver(blocklist_alert.pk) == []

    sent = AlertDelivery.objects.get()
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, "")
    assert len(receiver.requests) == 2


def test_the_task_retries_until_the_webhook_answers(delivery_settings, blocklist_alert):
    """An eager task retries at once, without the countdown a worker would wait."""
    delivery_settings.FACEGATE_ALERT_EMAILS = []
    with webhook_receiver(statuses=[500, 502]) as receiver:
        delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        deliver_alert.apply(args=[blocklist_alert.pk]).get()

    assert len(receiver.requests) == 3
    assert AlertDelivery.objects.get().attempts == 3
    assert len({request.body for request in receiver.requests}) == 3  # each attempt signs its own sent_at


def test_an_unreachable_webhook_fails_without_stopping_email(delivery_settings, blocklist_alert):
    with webhook_receiver() as receiver:
        closed_url = receiver.url  # nothing listens there once the receiver has stopped
    delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [closed_url]

    unfinished = deliver(blocklist_alert.pk)

    assert [d.channel for d in unfinished] == ["webhook"]
    assert "Connection refused" in AlertDelivery.objects.get(channel="webhook").last_error
    assert len(mail.outbox) == 1


def test_an_equipment_alert_is_delivered_without_an_event(delivery_settings, door):
    alert, _ = raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=door, message="No heartbeat for 30 s")
    with webhook_receiver() as receiver:
        delivery_settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        deliver(alert.pk)

    body = json.loads(receiver.requests[0].body)
    assert (body["kind"], body["event"], body["person"], body["snapshot_url"]) == (
        "controller_offline", None, None, None
    )
    assert body["alert"]["message"] == "No heartbeat for 30 s"
    assert mail.outbox[0].subject == "[FaceGate] Door controller offline at Main entrance"


def test_webhooks_without_a_secret_fail_the_system_check(settings):
    settings.FACEGATE_ALERT_WEBHOOK_URLS = ["https://hooks.example.org/facegate"]
    settings.FACEGATE_WEBHOOK_SECRET = ""

    with pytest.raises(SystemCheckError, match="alerts.E001"):
        call_command("check", "--tag", "alerts")
