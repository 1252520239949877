"""Manual open (operators and admins, audited), door status, and HTTP controllers' signed heartbeats."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from access.audit.models import AuditLog
from access.doors.models import DoorCommand, DoorStatus
from access.doors.services import record_heartbeat
from access.doors.signing import signed_headers
from tests.access.doors.conftest import HMAC_SECRET


def test_a_manual_open_reaches_the_door_and_is_audited(subscribe, mqtt_door, client_for):
    controller = subscribe()

    response = client_for("operator").post(
        f"/api/doors/{mqtt_door.pk}/open/", {"reason": "Courier at the front desk"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "sent" and response.json()["user"] == "operator-user"
    payload = json.loads(controller.next_on(f"{mqtt_door.mqtt_topic}/set").payload)
    assert (payload["action"], payload["reason"]) == ("open", "Courier at the front desk")
    command = DoorCommand.objects.get()
    entry = AuditLog.objects.get(content_type__model="doorcommand", object_id=str(command.pk))
    assert (entry.action, entry.source, entry.actor.username) == ("create", "api", "operator-user")
    assert entry.client_address == "203.0.113.7"
    assert entry.changes["reason"]["after"] == "Courier at the front desk"
    assert entry.changes["door"]["after"] == mqtt_door.pk


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 301}])
def test_a_manual_open_needs_a_reason(client_for, mqtt_door, body):
    audit_before = AuditLog.objects.count()

    response = client_for("admin").post(f"/api/doors/{mqtt_door.pk}/open/", body, format="json")

    assert response.status_code == 400
    assert "reason" in response.json()
    assert not DoorCommand.objects.exists() and AuditLog.objects.count() == audit_before


def test_a_viewer_cannot_open_a_door(client_for, mqtt_door):
    response = client_for("viewer").post(
        f"/api/doors/{mqtt_door.pk}/open/", {"reason": "Let me"}, format="json"
    )

    assert response.status_code == 403
    assert not DoorCommand.objects.exists()


def test_the_door_shows_its_status(client_for, mqtt_door):
    record_heartbeat(mqtt_door.pk, state="locked", at=timezone.now() - timedelta(seconds=5))
    DoorStatus.objects.filter(door=mqtt_door).update(fail_mode_since=timezone.now())

    status = client_for("operator").get(f"/api/doors/{mqtt_door.pk}/").json()["status"]

    assert status["online"] is True
    assert status["state"] == "locked"
    assert status["fail_mode_active"] is True
    assert status["last_heartbeat_at"] is not None


def test_a_door_never_heard_from_is_offline_and_an_unwatched_one_unknown(client_for, mqtt_door, http_door):
    http_door.heartbeat_timeout_seconds = None
    http_door.save()

    doors = {
        door["name"]: door["status"] for door in client_for("operator").get("/api/doors/").json()["results"]
    }

    assert doors["Front door"]["online"] is False and doors["Front door"]["state"] == ""
    assert doors["Side gate"]["online"] is None


def _heartbeat(door_id: int, body: dict, secret: str = HMAC_SECRET, now: float | None = None):
    raw = json.dumps(body).encode()
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in signed_headers(secret, raw, now).items()
    }
    return APIClient().post(
        f"/api/doors/{door_id}/heartbeat/", raw, content_type="application/json", **headers
    )


def test_an_http_controller_heartbeat_is_stored(http_door):
    response = _heartbeat(http_door.pk, {"door": http_door.pk, "state": "unlocked"})

    assert response.status_code == 204, response.content
    status = DoorStatus.objects.get(door=http_door)
    assert status.state == "unlocked"
    assert (timezone.now() - status.last_heartbeat_at).total_seconds() < 60
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("sign", "expected"),
    [
        (lambda door: _heartbeat(door.pk, {"door": door.pk}, secret="guessed"), "does not match"),
        (lambda door: _heartbeat(door.pk, {"door": door.pk}, now=time.time() - 600), "at most 60 s"),
        (
            lambda door: APIClient().post(
                f"/api/doors/{door.pk}/heartbeat/", {"door": door.pk}, format="json"
            ),
            "Unix time",
        ),
    ],
    ids=["wrong-secret", "replayed", "unsigned"],
)
def test_a_heartbeat_not_signed_now_with_the_secret_is_refused(http_door, sign, expected):
    response = sign(http_door)

    assert response.status_code == 403
    assert expected in response.json()["detail"]
    assert not DoorStatus.objects.filter(last_heartbeat_at__isnull=False).exists()


def test_a_heartbeat_signed_for_another_door_is_refused(http_door, mqtt_door):
    response = _heartbeat(http_door.pk, {"door": mqtt_door.pk})

    assert response.status_code == 400
    assert not DoorStatus.objects.filter(last_heartbeat_at__isnull=False).exists()


def test_a_heartbeat_with_an_unknown_state_is_refused(http_door):
    response = _heartbeat(http_door.pk, {"door": http_door.pk, "state": "ajar"})

    assert response.status_code == 400
    assert "state" in response.json()


def test_command_history_is_listed_per_door(client_for, settings, mqtt_door, http_door):
    settings.MQTT_URL = ""
    client = client_for("operator")
    client.post(f"/api/doors/{mqtt_door.pk}/open/", {"reason": "Delivery"}, format="json")

    listed = client.get("/api/door-commands/", {"door": mqtt_door.pk, "outcome": "failed"}).json()

    assert listed["count"] == 1
    assert "MQTT_URL is empty" in listed["results"][0]["error"]
    assert client.get("/api/door-commands/", {"door": http_door.pk}).json()["count"] == 0
