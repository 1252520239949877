"""Every create, change and delete via the API or the admin leaves one entry: who, what, before, after."""

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from access.audit.models import AuditLog
from access.audit.services import snapshot
from access.doors.models import Door, DoorGroup
from access.people.models import FaceSample, Person
from access.watchlists.models import BlockEntry


def _entries(**filters) -> list[AuditLog]:
    return list(AuditLog.objects.filter(**filters).order_by("pk"))


@pytest.fixture
def admin_site_client(db) -> tuple[Client, object]:
    user = get_user_model().objects.create_superuser("root", password="unused-pw-123")
    client = Client(REMOTE_ADDR="198.51.100.4")
    client.force_login(user)
    return client, user


# The API


def test_api_change_logs_exactly_the_changed_fields(operator_client, door):
    response = operator_client.patch(f"/api/doors/{door.pk}/", {"open_seconds": 3.5}, format="json")

    assert response.status_code == 200
    (entry,) = _entries(action="update")
    assert entry.changes == {"open_seconds": {"before": 5.0, "after": 3.5}}
    assert (entry.source, entry.actor_name, entry.client_address) == ("api", "operator-user", "203.0.113.7")
    assert (entry.content_type.model, entry.object_id, entry.object_repr) == (
        "door",
        str(door.pk),
        "Main entrance",
    )


def test_api_create_logs_the_new_values(operator_client, person):
    response = operator_client.post(
        "/api/block-entries/", {"person": person.pk, "reason": "Trespass"}, format="json"
    )

    (entry,) = _entries(action="create")
    assert entry.object_id == str(response.json()["id"])
    assert entry.changes["reason"] == {"before": None, "after": "Trespass"}
    assert entry.changes["person"] == {"before": None, "after": person.pk}
    assert entry.changes["added_by"]["after"] == entry.actor.pk


def test_many_to_many_change_is_one_entry(operator_client, door):
    group = DoorGroup.objects.create(name="Labs")
    group.doors.add(door)
    back = Door.objects.create(name="Back", controller_kind="mqtt", mqtt_topic="doors/back")

    response = operator_client.patch(f"/api/door-groups/{group.pk}/", {"doors": [back.pk]}, format="json")

    assert response.status_code == 200
    (entry,) = _entries(action="update")
    assert entry.changes == {"doors": {"before": [door.pk], "after": [back.pk]}}


def test_api_delete_logs_the_object_and_its_cascade(operator_client, person):
    BlockEntry.objects.create(person=person, reason="Trespass")

    assert operator_client.delete(f"/api/people/{person.pk}/").status_code == 204

    deleted = {(e.content_type.model, e.object_id) for e in _entries(action="delete")}
    consent_and_person = {("consent", str(person.pk)), ("person", str(person.pk))}
    assert consent_and_person <= deleted
    assert any(model == "blockentry" for model, _ in deleted)
    person_entry = AuditLog.objects.get(action="delete", content_type__model="person")
    assert person_entry.changes["external_id"] == {"before": "E-1001", "after": None}


def test_a_refused_request_logs_nothing_and_changes_nothing(operator_client, door):
    response = operator_client.patch(f"/api/doors/{door.pk}/", {"open_seconds": -1}, format="json")

    assert response.status_code == 400
    assert AuditLog.objects.count() == 0
    door.refresh_from_db()
    assert door.open_seconds == 5.0


def test_reads_log_nothing(operator_client, door):
    operator_client.get("/api/doors/")
    operator_client.get(f"/api/doors/{door.pk}/")

    assert AuditLog.objects.count() == 0


def test_secrets_are_logged_as_digests(client, db):
    user = get_user_model().objects.create_user("alice", password="correct horse battery")

    response = client.post("/api/auth/token/", {"username": "alice", "password": "correct horse battery"})

    key = response.json()["token"]
    (entry,) = _entries(content_type__model="token")
    assert key not in str(entry.changes) + entry.object_id + entry.object_repr
    assert entry.changes["user"] == {"before": None, "after": user.pk}


def test_face_codes_are_never_written_to_the_log(person, photo_bytes):
    sample = FaceSample(person=person, width=250, height=250, model_version="v1", state="enrolled")
    sample.image.save("face.jpg", ContentFile(photo_bytes), save=False)
    sample.face_code = np.linspace(-0.5, 0.5, 128, dtype=np.float32)

    logged = snapshot(sample)

    assert logged["face_code_data"].startswith("redacted:")
    assert len(logged["face_code_data"]) < 30


def test_audit_log_is_readable_by_admins_and_filterable(client_for, operator_client, door):
    operator_client.patch(f"/api/doors/{door.pk}/", {"name": "Front"}, format="json")

    admin = client_for("admin")
    doors = admin.get("/api/audit-log/", {"object_type": "doors.door", "action": "update"}).json()
    people = admin.get("/api/audit-log/", {"object_type": "people.person"}).json()

    assert doors["count"] == 1
    assert doors["results"][0]["changes"] == {"name": {"before": "Main entrance", "after": "Front"}}
    assert people["count"] == 0


# The admin


def test_admin_create_change_delete_are_logged(admin_site_client):
    client, user = admin_site_client
    form = {
        "name": "Loading bay",
        "location": "",
        "controller_kind": "mqtt",
        "mqtt_topic": "doors/bay",
        "http_url": "",
        "open_seconds": "4",
        "fail_mode": "fail_secure",
        "grant_frames": "2",
        "window_frames": "3",
        "window_seconds": "2",
        "cooldown_seconds": "5",
        "missing_person_policy": "keep_locked",
    }

    assert client.post(reverse("admin:doors_door_add"), form).status_code == 302
    door = Door.objects.get(name="Loading bay")
    changed = {**form, "open_seconds": "8", "fail_mode": "fail_safe"}
    assert client.post(reverse("admin:doors_door_change", args=[door.pk]), changed).status_code == 302
    assert client.post(reverse("admin:doors_door_delete", args=[door.pk]), {"post": "yes"}).status_code == 302

    created, updated, deleted = _entries(content_type__model="door")
    assert [e.action for e in (created, updated, deleted)] == ["create", "update", "delete"]
    assert all(
        e.source == "admin" and e.actor == user and e.client_address == "198.51.100.4"
        for e in (created, updated, deleted)
    )
    assert created.changes["mqtt_topic"] == {"before": None, "after": "doors/bay"}
    assert updated.changes == {
        "open_seconds": {"before": 4.0, "after": 8.0},
        "fail_mode": {"before": "fail_secure", "after": "fail_safe"},
    }
    assert deleted.changes["name"] == {"before": "Loading bay", "after": None}


def test_admin_many_to_many_edit_is_one_entry(admin_site_client, door):
    client, _ = admin_site_client
    group = DoorGroup.objects.create(name="Labs")
    back = Door.objects.create(name="Back", controller_kind="mqtt", mqtt_topic="doors/back")

    response = client.post(
        reverse("admin:doors_doorgroup_change", args=[group.pk]),
        {"name": "Labs", "description": "", "doors": [door.pk, back.pk]},
    )

    assert response.status_code == 302
    (entry,) = _entries(action="update")
    assert entry.changes == {"doors": {"before": [], "after": sorted([door.pk, back.pk])}}


def _inline_management(prefix: str, total: int = 0, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_admin_inline_additions_are_logged_and_attributed(admin_site_client, person_without_consent):
    client, user = admin_site_client
    person = person_without_consent
    form = {"name": person.name, "external_id": person.external_id, "status": "active", "notes": ""}
    for prefix in ("consent", "samples", "allow_entries", "missing_entries"):
        form.update(_inline_management(prefix))
    form.update(_inline_management("block_entries", total=1))
    form.update(
        {
            "block_entries-0-reason": "Tailgating",
            "block_entries-0-added_at_0": "2025-06-11",
            "block_entries-0-added_at_1": "10:00:00",
            "block_entries-0-person": str(person.pk),
        }
    )

    response = client.post(reverse("admin:people_person_change", args=[person.pk]), form)

    assert response.status_code == 302, response.content.decode()[:3000]
    block = BlockEntry.objects.get()
    assert block.added_by == user
    (entry,) = _entries(content_type__model="blockentry")
    assert (entry.action, entry.source, entry.actor) == ("create", "admin", user)
    assert not AuditLog.objects.filter(content_type__model="person").exists()  # the person did not change


def test_admin_delete_of_a_person_logs_the_cascade(admin_site_client, person):
    client, _ = admin_site_client

    response = client.post(reverse("admin:people_person_delete", args=[person.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Person.objects.exists()
    assert {e.content_type.model for e in _entries(action="delete", source="admin")} == {"person", "consent"}
