"""raise_alert de-duplicates sightings per person and camera in a window, equipment faults until resolved."""

import threading
from datetime import timedelta
from itertools import count

import pytest
from django.db import connection

from access.alerts.models import Alert
from access.alerts.services import raise_alert, resolve
from access.cameras.models import Camera
from access.doors.models import Door
from access.events.services import record_event

_serial = count()


def sighting(camera: Camera, person=None):
    event, _ = record_event(
        f"sighting-{next(_serial)}", camera=camera, door=camera.door, person=person, decision="alert",
        reason="Blocklisted: trespass",
    )
    return event


def test_a_sighting_names_its_person_camera_and_door(camera, person):
    event = sighting(camera, person)

    alert, created = raise_alert(Alert.Kind.BLOCKLIST, event=event)

    assert created
    assert (alert.event, alert.person, alert.camera, alert.door) == (event, person, camera, camera.door)
    assert alert.state == Alert.State.NEW


def test_the_same_event_raises_one_alert(camera, person):
    event = sighting(camera, person)

    first, created = raise_alert(Alert.Kind.BLOCKLIST, event=event)
    again, created_again = raise_alert(Alert.Kind.BLOCKLIST, event=event)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk


def test_a_person_seen_again_within_the_window_raises_no_new_alert(settings, camera, person):
    settings.FACEGATE_ALERT_DEDUP_SECONDS = 300
    first_sighting, second_sighting = sighting(camera, person), sighting(camera, person)

    first, _ = raise_alert(Alert.Kind.BLOCKLIST, event=first_sighting)
    covering, created = raise_alert(Alert.Kind.BLOCKLIST, event=second_sighting)

    assert not created
    assert covering.pk == first.pk
    assert Alert.objects.count() == 1
    assert not Alert.objects.filter(event=second_sighting).exists()  # the event stays, without an alert


def test_a_person_seen_again_after_the_window_raises_a_new_alert(settings, camera, person):
    settings.FACEGATE_ALERT_DEDUP_SECONDS = 300
    first, _ = raise_alert(Alert.Kind.BLOCKLIST, event=sighting(camera, person))
    Alert.objects.filter(pk=first.pk).update(created_at=first.created_at - timedelta(seconds=301))

    later, created = raise_alert(Alert.Kind.BLOCKLIST, event=sighting(camera, person))

    assert created
    assert later.pk != first.pk


def test_a_resolved_alert_does_not_cover_a_new_sighting(camera, person, admin_user):
    first, _ = raise_alert(Alert.Kind.MISSING, event=sighting(camera, person))
    resolve(first, admin_user, "Found, family informed")

    _, created = raise_alert(Alert.Kind.MISSING, event=sighting(camera, person))

    assert created


def test_sightings_are_told_apart_by_kind_person_and_camera(camera, person, person_without_consent):
    other_camera = Camera.objects.create(name="Back cam", source_url="rtsp://10.0.0.9/s", door=camera.door)
    raise_alert(Alert.Kind.BLOCKLIST, event=sighting(camera, person))

    raised = [
        raise_alert(Alert.Kind.MISSING, event=sighting(camera, person))[1],
        raise_alert(Alert.Kind.BLOCKLIST, event=sighting(camera, person_without_consent))[1],
        raise_alert(Alert.Kind.BLOCKLIST, event=sighting(other_camera, person))[1],
    ]

    assert raised == [True, True, True]
    assert Alert.objects.count() == 4


def test_an_equipment_alert_is_raised_once_until_resolved(door, admin_user):
    first, created = raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=door, message="No heartbeat for 30 s")
    again, created_again = raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=door, message="Still quiet")
    other_door = Door.objects.create(name="Loading bay", controller_kind="mqtt", mqtt_topic="doors/bay")
    _, other_created = raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=other_door)

    assert (created, created_again, other_created) == (True, False, True)
    assert again.pk == first.pk
    assert first.event is None and first.message == "No heartbeat for 30 s"

    resolve(first, admin_user)
    _, created_after_resolve = raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=door)
    assert created_after_resolve


def test_an_acknowledged_equipment_alert_still_covers_the_fault(door, camera, operator_client):
    alert, _ = raise_alert(Alert.Kind.PIPELINE_DOWN, door=door, camera=camera)
    assert operator_client.post(f"/api/alerts/{alert.pk}/acknowledge/").status_code == 200

    again, created = raise_alert(Alert.Kind.PIPELINE_DOWN, door=door, camera=camera)

    assert not created
    assert again.pk == alert.pk


@pytest.mark.parametrize(
    ("kind", "message"), [("blocklist", "names the event"), ("tailgating", "Unknown alert kind")]
)
def test_bad_requests_are_refused(db, kind, message):
    with pytest.raises(ValueError, match=message):
        raise_alert(kind)
    assert not Alert.objects.exists()


def test_a_new_alert_is_delivered_after_commit_and_a_duplicate_is_not(
    camera, person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as new_alert_callbacks:
        raise_alert(Alert.Kind.BLOCKLIST, event=sighting(camera, person))
    with django_capture_on_commit_callbacks() as duplicate_callbacks:
        raise_alert(Alert.Kind.BLOCKLIST, event=sighting(camera, person))

    assert len(new_alert_callbacks) == 1
    assert duplicate_callbacks == []


@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_one_sighting_raise_one_alert(camera, person):
    """Each thread has its own database connection, as each worker process does."""
    racers = 6
    events = [sighting(camera, person) for _ in range(racers)]
    start = threading.Barrier(racers)
    outcomes: list[bool] = []

    def race(event) -> None:
        try:
            start.wait()
            outcomes.append(raise_alert(Alert.Kind.BLOCKLIST, event=event)[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [False] * (racers - 1) + [True]
    assert Alert.objects.count() == 1
