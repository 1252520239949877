"""Alerts move new -> acknowledged -> resolved, recording who and when; other steps are 409."""

import pytest
from django.db import IntegrityError, transaction

from access.alerts.models import Alert
from access.alerts.services import raise_alert
from access.events.services import record_event


@pytest.fixture
def alert(camera) -> Alert:
    event, _ = record_event("k", camera=camera, decision="alert", reason="Blocklisted: trespass")
    return raise_alert(Alert.Kind.BLOCKLIST, event=event)[0]


def test_acknowledge_then_resolve(operator_client, alert):
    acknowledged = operator_client.post(f"/api/alerts/{alert.pk}/acknowledge/")
    assert acknowledged.status_code == 200
    assert acknowledged.json()["state"] == "acknowledged"
    assert acknowledged.json()["acknowledged_at"]

    resolved = operator_client.post(
        f"/api/alerts/{alert.pk}/resolve/", {"note": "Escorted out"}, format="json"
    )
    assert resolved.status_code == 200
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert alert.resolution_note == "Escorted out"
    assert alert.acknowledged_by == alert.resolved_by
    assert alert.acknowledged_by.username == "operator-user"


def test_resolving_a_new_alert_acknowledges_it_too(operator_client, alert):
    assert operator_client.post(f"/api/alerts/{alert.pk}/resolve/").status_code == 200

    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert alert.resolved_at is not None


def test_repeated_steps_are_conflicts(operator_client, alert):
    operator_client.post(f"/api/alerts/{alert.pk}/resolve/")

    for step in ("acknowledge", "resolve"):
        response = operator_client.post(f"/api/alerts/{alert.pk}/{step}/")
        assert response.status_code == 409
        assert "already resolved" in response.json()["detail"]


def test_state_must_carry_its_timestamps(alert):
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(state="resolved")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(state="forgotten")


def test_filter_by_state(client_for, alert):
    viewer = client_for("viewer")

    assert viewer.get("/api/alerts/", {"state": "new"}).json()["count"] == 1
    assert viewer.get("/api/alerts/", {"state": "resolved"}).json()["count"] == 0
    assert viewer.get("/api/alerts/", {"state": "bogus"}).status_code == 400
