"""Each role gets exactly its rights on every endpoint: 2xx where granted, 403 where not, 401 without login.

Every write that succeeds must also leave its audit entry.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.base import ContentFile
from django.db import models

from access.alerts.services import raise_alert
from access.audit.models import AuditLog
from access.cameras.models import Camera
from access.doors.models import Door, DoorCommand, DoorGroup
from access.doors.services import command_door
from access.events.services import record_event
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry
from tests.access.conftest import ANONYMOUS, ROLES

ADMIN_OPERATOR = frozenset({"admin", "operator"})
_serial = itertools.count(1)


@dataclass
class Site:
    person: Person
    door: Door
    door_group: DoorGroup
    camera: Camera

    def new_person(self, consent: bool = False) -> Person:
        number = next(_serial)
        person = Person.objects.create(name=f"Person {number}", external_id=f"T-{number}")
        if consent:
            Consent.objects.create(person=person, method="electronic")
        return person

    def new_event(self):
        event, _ = record_event(
            f"test-{next(_serial)}",
            camera=self.camera,
            door=self.door,
            decision="alert",
            reason="Blocklisted",
        )
        return event

    def new_sample(self) -> FaceSample:
        sample = FaceSample(person=self.person, width=10, height=10)
        sample.image.save(
            "face.jpg", ContentFile(b"stand-in bytes; this test never decodes them"), save=False
        )
        sample.save()
        return sample


@dataclass(frozen=True)
class Resource:
    path: str
    readers: frozenset[str]
    writers: frozenset[str]
    existing: Callable[[Site], models.Model]
    payload: Callable[[Site], dict] = lambda site: {}
    change: dict = field(default_factory=dict)
    writes: frozenset[str] = frozenset({"create", "update", "delete"})


RESOURCES = [
    Resource(
        "people",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: s.new_person(),
        lambda s: {"name": "New Person", "external_id": "N-1"},
        {"notes": "Works nights"},
    ),
    Resource(
        "consents",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: s.new_person(consent=True).consent,
        lambda s: {"person": s.new_person().pk, "method": "signed_form"},
        {"document_reference": "Cabinet 3"},
    ),
    # Samples are created by the upload endpoint (tested on its own) and never edited.
    Resource(
        "samples", ADMIN_OPERATOR, ADMIN_OPERATOR, lambda s: s.new_sample(), writes=frozenset({"delete"})
    ),
    Resource(
        "allow-entries",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: AllowEntry.objects.create(person=s.person, door=s.door),
        lambda s: {
            "person": s.person.pk,
            "door_group": s.door_group.pk,
            "schedule": [{"weekday": 0, "starts_at": "07:00", "ends_at": "19:00"}],
        },
        {"note": "Contractor"},
    ),
    Resource(
        "block-entries",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: BlockEntry.objects.create(person=s.person, reason="Lost badge misuse"),
        lambda s: {"person": s.person.pk, "reason": "Trespass"},
        {"reason": "Trespass, twice"},
    ),
    Resource(
        "missing-entries",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: MissingEntry.objects.create(
            person=s.person, case_number="MP-7", reporting_contact="Mother"
        ),
        lambda s: {
            "person": s.person.pk,
            "case_number": "MP-8",
            "reporting_contact": "Brother, 0151 496 0000",
            "alert_recipients": ["security@example.org"],
        },
        {"alert_recipients": ["desk@example.org"]},
    ),
    Resource(
        "doors",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: Door.objects.create(name=f"Door {next(_serial)}", controller_kind="mqtt", mqtt_topic="d/x"),
        lambda s: {"name": "Back door", "controller_kind": "http", "http_url": "http://10.0.0.2/open"},
        {"open_seconds": 3.5},
    ),
    Resource(
        "door-groups",
        ADMIN_OPERATOR,
        ADMIN_OPERATOR,
        lambda s: DoorGroup.objects.create(name=f"Group {next(_serial)}"),
        lambda s: {"name": "Labs", "doors": [s.door.pk]},
        {"description": "Second floor"},
    ),
    # Commands are written by FaceGate only (the pipeline, the watchdog, a manual open).
    Resource(
        "door-commands",
        ADMIN_OPERATOR,
        frozenset(),
        lambda s: command_door(s.door, "open", reason="Visitor"),
        writes=frozenset(),
    ),
    Resource(
        "cameras",
        ADMIN_OPERATOR,
        frozenset({"admin"}),
        lambda s: Camera.objects.create(name=f"Cam {next(_serial)}", source_url="rtsp://10.0.0.7/s"),
        lambda s: {"name": "Yard cam", "source_url": "rtsp://10.0.0.6/stream", "door": s.door.pk},
        {"enabled": False},
    ),
    Resource(
        "events",
        frozenset({"admin", "operator", "viewer"}),
        frozenset(),
        lambda s: s.new_event(),
        writes=frozenset(),
    ),
    Resource(
        "alerts",
        frozenset({"admin", "operator", "viewer"}),
        frozenset(),
        lambda s: raise_alert("blocklist", event=s.new_event())[0],
        writes=frozenset(),
    ),
    Resource("audit-log", frozenset({"admin"}), frozenset(), lambda s: _audit_entry(s), writes=frozenset()),
]


def _audit_entry(site: Site) -> AuditLog:
    from access.audit.services import record

    return record(action="create", instance=site.door, changes={}, source="api")


@pytest.fixture
def site(person, door, door_group, camera) -> Site:
    return Site(person, door, door_group, camera)


def _request(client, operation: str, resource: Resource, site: Site, obj: models.Model | None):
    collection = f"/api/{resource.path}/"
    if operation == "list":
        return client.get(collection)
    if operation == "create":
        return client.post(collection, resource.payload(site), format="json")
    detail = f"{collection}{obj.pk}/"
    if operation == "retrieve":
        return client.get(detail)
    if operation == "update":
        return client.patch(detail, resource.change, format="json")
    return client.delete(detail)


MODEL_NAMES = {
    "people": "person",
    "consents": "consent",
    "samples": "facesample",
    "allow-entries": "allowentry",
    "block-entries": "blockentry",
    "missing-entries": "missingentry",
    "doors": "door",
    "door-groups": "doorgroup",
    "cameras": "camera",
}
OPERATIONS = {"list": 200, "retrieve": 200, "create": 201, "update": 200, "delete": 204}
AUDITED = {"create": "create", "update": "update", "delete": "delete"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("resource", RESOURCES, ids=[r.path for r in RESOURCES])
def test_role_matrix(client_for, site, resource: Resource, operation: str, role: str):
    client = client_for(role)
    obj = resource.existing(site) if operation in ("retrieve", "update", "delete") else None
    audit_before = AuditLog.objects.count()

    response = _request(client, operation, resource, site, obj)

    if role == ANONYMOUS:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    elif operation not in AUDITED:
        assert response.status_code == (200 if role in resource.readers else 403), response.content
    elif operation not in resource.writes:
        assert response.status_code in (403, 405)  # 405 for a role that holds the permission
    elif role in resource.writers:
        assert response.status_code == OPERATIONS[operation], response.content
        object_id = (
            str(obj.pk) if obj is not None else str(response.json().get("id", response.json().get("person")))
        )
        entry = AuditLog.objects.get(
            action=AUDITED[operation], object_id=object_id, content_type__model=MODEL_NAMES[resource.path]
        )
        assert entry.source == "api"
        assert entry.actor.username == f"{role}-user"
        assert entry.client_address == "203.0.113.7"
        assert entry.changes
    else:
        assert response.status_code == 403
    if response.status_code >= 400:
        assert AuditLog.objects.count() == audit_before


@pytest.mark.parametrize("role", ROLES)
def test_acknowledging_alerts(client_for, site, role):
    alert, _ = raise_alert("blocklist", event=site.new_event())

    response = client_for(role).post(f"/api/alerts/{alert.pk}/acknowledge/")

    expected = {ANONYMOUS: 401, "admin": 200, "operator": 200}.get(role, 403)
    assert response.status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_opening_doors_by_hand(client_for, site, role, settings):
    settings.MQTT_URL = ""  # no broker: the command is recorded as not sent, and the answer says so

    response = client_for(role).post(f"/api/doors/{site.door.pk}/open/", {"reason": "Courier"}, format="json")

    assert response.status_code == {ANONYMOUS: 401, "admin": 503, "operator": 503}.get(role, 403)
    commands = DoorCommand.objects.filter(door=site.door, action="open")
    if response.status_code == 503:
        assert commands.get().user.username == f"{role}-user"
        assert response.json()["outcome"] == "failed"
    else:
        assert not commands.exists()


@pytest.mark.parametrize("role", ROLES)
def test_issuing_device_tokens(client_for, site, role):
    response = client_for(role).post(f"/api/cameras/{site.camera.pk}/device-token/")

    assert response.status_code == {ANONYMOUS: 401, "admin": 201}.get(role, 403)


@pytest.mark.parametrize("role", ROLES)
def test_access_verdict_endpoint(client_for, site, role):
    AllowEntry.objects.create(person=site.person, door=site.door)

    response = client_for(role).get(f"/api/people/{site.person.pk}/access-verdict/", {"door": site.door.pk})

    assert response.status_code == {ANONYMOUS: 401, "admin": 200, "operator": 200}.get(role, 403)
    if response.status_code == 200:
        assert response.json() == {
            "decision": "grant",
            "reason": "Allowed at Main entrance",
            "alert_kind": None,
        }


def test_session_login_works_too(db, client, site):
    from tests.access.conftest import make_user

    client.force_login(make_user("viewer"))

    assert client.get("/api/events/").status_code == 200
    assert client.get("/api/people/").status_code == 403


def test_lists_are_paginated(settings, client_for, site):
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    Person.objects.bulk_create(Person(name=f"P {n}", external_id=f"B-{n}") for n in range(page_size))

    first = client_for("operator").get("/api/people/").json()

    assert first["count"] == page_size + 1
    assert len(first["results"]) == page_size
    assert first["next"].endswith("/api/people/?page=2")
