"""Every model has an admin whose list (with search and filters) and detail pages render."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from access.alerts.services import raise_alert
from access.audit.services import record
from access.decisions.models import Track
from access.doors.services import command_door
from access.events.services import record_event
from access.people.models import FaceSample
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry

FACEGATE_APPS = {"people", "watchlists", "doors", "cameras", "events", "decisions", "alerts", "audit"}
MODEL_ADMINS = sorted(
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label in FACEGATE_APPS
)


def test_every_facegate_model_has_an_admin():
    registered = {f"{app}.{model}" for app, model in MODEL_ADMINS}

    assert registered == {
        "people.person",
        "people.consent",
        "people.facesample",
        "watchlists.allowentry",
        "watchlists.blockentry",
        "watchlists.missingentry",
        "doors.door",
        "doors.doorgroup",
        "doors.doorcommand",
        "cameras.camera",
        "cameras.camerahealth",
        "events.event",
        "decisions.track",
        "alerts.alert",
        "audit.auditlog",
    }


@pytest.mark.parametrize(("app", "model"), MODEL_ADMINS)
def test_admin_pages_render(client, person, door, door_group, camera, app, model):
    event, _ = record_event(
        "k", camera=camera, door=door, person=person, decision="alert", reason="Blocklisted"
    )
    objects = {
        "person": person,
        "consent": person.consent,
        "door": door,
        "doorgroup": door_group,
        "doorcommand": command_door(door, "open", reason="Visitor"),
        "camera": camera,
        "event": event,
        "track": Track.objects.create(
            camera=camera, box=[1, 2, 3, 4], first_seen_at=event.occurred_at, last_seen_at=event.occurred_at
        ),
        "alert": raise_alert("blocklist", event=event)[0],
        "allowentry": AllowEntry.objects.create(person=person, door=door),
        "blockentry": BlockEntry.objects.create(person=person, reason="Trespass"),
        "missingentry": MissingEntry.objects.create(
            person=person, case_number="MP-1", reporting_contact="Aunt"
        ),
        "auditlog": record(action="create", instance=door, changes={}, source="admin"),
        "facesample": FaceSample.objects.create(person=person, image="samples/x.jpg", width=1, height=1),
    }
    client.force_login(get_user_model().objects.create_superuser("root", password="unused-pw-123"))

    changelist = client.get(reverse(f"admin:{app}_{model}_changelist"), {"q": "a"})
    assert changelist.status_code == 200
    if model in objects:
        detail = client.get(reverse(f"admin:{app}_{model}_change", args=[objects[model].pk]))
        assert detail.status_code == 200
