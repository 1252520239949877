"""Bad input anywhere in the API is a 4xx that names the problem, and nothing is stored."""

import pytest

from access.doors.models import Door
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry, MissingEntry, ScheduleWindow


def test_malformed_json_is_400(operator_client, db):
    response = operator_client.post("/api/people/", data='{"name": "Ann", ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ["a", "list"], "external_id": "E-1"}, "name"),
        ({"name": "Ann", "external_id": "E-1", "status": "retired"}, "status"),
        ({"name": "Ann"}, "external_id"),
        ({"name": "Ann", "external_id": ""}, "external_id"),
        ({"name": "Ann", "external_id": {"id": 1}}, "external_id"),
    ],
)
def test_wrong_types_and_choices_are_400(operator_client, db, body, field):
    response = operator_client.post("/api/people/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Person.objects.exists()


def test_duplicate_external_id_is_400(operator_client, person):
    response = operator_client.post("/api/people/", {"name": "Twin", "external_id": "E-1001"}, format="json")

    assert response.status_code == 400
    assert "external_id" in response.json()
    assert Person.objects.count() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/people/424242/",
        "/api/doors/424242/",
        "/api/consents/424242/",
        "/api/alerts/424242/",
        "/api/samples/424242/image/",
    ],
)
def test_unknown_ids_are_404(operator_client, db, path):
    assert operator_client.get(path).status_code == 404


def test_unknown_reference_is_400(operator_client, db):
    response = operator_client.post("/api/allow-entries/", {"person": 424242, "door": 1}, format="json")

    assert response.status_code == 400
    assert "person" in response.json()
    assert not AllowEntry.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "either a door or a door group"),
        ({"door_group": "GROUP"}, "either a door or a door group"),
        ({"valid_from": "2025-06-01T00:00:00Z", "valid_until": "2025-05-01T00:00:00Z"}, "after valid_from"),
        ({"schedule": [{"weekday": 2, "starts_at": "19:00", "ends_at": "07:00"}]}, "end after it starts"),
        ({"schedule": [{"weekday": 9, "starts_at": "07:00", "ends_at": "09:00"}]}, "not a valid choice"),
    ],
    ids=["no-door", "door-and-group", "until-before-from", "window-backwards", "bad-weekday"],
)
def test_allow_entry_rules_are_400_not_500(operator_client, person, door, door_group, body, message):
    body = {"person": person.pk, "door": door.pk, **body}
    if body.get("door_group") == "GROUP":
        body["door_group"] = door_group.pk
    if message == "either a door or a door group" and "door_group" not in body:
        body.pop("door")

    response = operator_client.post("/api/allow-entries/", body, format="json")

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AllowEntry.objects.exists()
    assert not ScheduleWindow.objects.exists()


def test_allow_entry_with_schedule_round_trips(operator_client, person, door):
    body = {
        "person": person.pk,
        "door": door.pk,
        "schedule": [{"weekday": 0, "starts_at": "07:00:00", "ends_at": "19:00:00"}],
    }

    created = operator_client.post("/api/allow-entries/", body, format="json").json()
    replaced = operator_client.patch(
        f"/api/allow-entries/{created['id']}/",
        {"schedule": [{"weekday": 5, "starts_at": "09:00:00", "ends_at": "12:00:00"}]},
        format="json",
    ).json()

    assert created["schedule"] == body["schedule"]
    assert replaced["schedule"] == [{"weekday": 5, "starts_at": "09:00:00", "ends_at": "12:00:00"}]
    assert ScheduleWindow.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"controller_kind": "mqtt"}, "non_field_errors"),
        ({"controller_kind": "http", "http_url": "ftp://x/open"}, "http_url"),
        ({"controller_kind": "mqtt", "mqtt_topic": "d/1", "open_seconds": 0}, "non_field_errors"),
        ({"controller_kind": "mqtt", "mqtt_topic": "d/1", "open_seconds": "soon"}, "open_seconds"),
        ({"controller_kind": "zigbee", "mqtt_topic": "d/1"}, "controller_kind"),
    ],
)
def test_door_rules_are_400(operator_client, db, body, field):
    response = operator_client.post("/api/doors/", {"name": "Side", **body}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Door.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"match_threshold": 2.5}, "non_field_errors"),
        ({"frame_rate": 0}, "non_field_errors"),
        ({"source_url": "not a url"}, "source_url"),
    ],
)
def test_camera_rules_are_400(client_for, db, body, field):
    response = client_for("admin").post(
        "/api/cameras/", {"name": "Cam", "source_url": "rtsp://10.0.0.1/s", **body}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()


def test_missing_entry_recipients_must_be_emails(operator_client, person):
    body = {
        "person": person.pk,
        "case_number": "MP-1",
        "reporting_contact": "Aunt",
        "alert_recipients": ["desk@example.org", "not-an-email"],
    }

    response = operator_client.post("/api/missing-entries/", body, format="json")

    assert response.status_code == 400
    assert "alert_recipients" in response.json()
    assert not MissingEntry.objects.exists()


def test_consent_withdrawal_erases_samples(
    operator_client, person, photo_bytes, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    sample = FaceSample(person=person, width=250, height=250)
    sample.image.save("face.jpg", ContentFile(photo_bytes), save=False)
    sample.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.delete(f"/api/consents/{person.pk}/")

    assert response.status_code == 204
    assert not Consent.objects.exists()
    assert not FaceSample.objects.exists()


def test_consent_cannot_move_to_another_person(operator_client, person, person_without_consent):
    response = operator_client.patch(
        f"/api/consents/{person.pk}/", {"person": person_without_consent.pk}, format="json"
    )

    assert response.status_code == 400
    assert Consent.objects.get().person == person
