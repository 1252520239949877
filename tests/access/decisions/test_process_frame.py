"""Frames of real faces to decisions, through the plain frame function the task wraps: grants within K
frames with the door command on the real Mosquitto, denials, blocklist and missing-person alerts, one grant
per passage, retries that write nothing twice, and two people kept apart."""

import base64
import time as clock
from datetime import time

import cv2
import numpy as np
import pytest
from django.utils import timezone

from access.alerts.delivery import deliver
from access.alerts.models import Alert
from access.cameras.models import Camera, CameraHealth
from access.decisions.models import Track
from access.doors.models import DoorCommand, MissingPersonPolicy
from access.events.models import Event
from access.people.models import Person
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow
from recognition import tasks
from recognition.pipeline import engine
from tests.access.alerts.receiver import webhook_receiver

from .conftest import (
    ALEXANDRIA,
    INTERVIEWEE,
    KATIE,
    MQTT_URL,
    PRESENTER,
    STRANGER,
    allowed,
    enrolled,
    frame,
    jpeg,
    mqtt_subscriber,
    probes,
    side_by_side,
    with_own_topics,
)


@pytest.fixture
def camera(camera: Camera, settings) -> Camera:
    """The entrance camera (the K-of-N window itself is tested on plain values in test_tracking)."""
    return with_own_topics(camera, settings)


def other_camera(camera: Camera) -> Camera:
    """A second camera at the same door."""
    return Camera.objects.create(name="Entrance, far side", source_url="rtsp://10.0.0.6/s", door=camera.door)


def decisions(events: list[Event]) -> list[tuple[str, int | None]]:
    return [(event.decision, event.person_id) for event in events]


def snapshot_pixels(event: Event) -> np.ndarray:
    with event.snapshot.open() as stored:
        bgr = cv2.imdecode(np.frombuffer(stored.read(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_an_allowed_person_is_granted_on_the_kth_frame_and_the_door_command_reaches_mqtt(
    camera, process, settings
):
    settings.MQTT_URL = MQTT_URL
    katie = allowed("Katie Hill", KATIE, camera)
    first, second, third = probes(KATIE, 3)

    with mqtt_subscriber(f"{camera.door.mqtt_topic}/set") as door_controller:
        assert process(camera, first) == []  # one frame of two agreeing
        [grant] = process(camera, second)
        assert process(camera, third) == []  # the same passage: decided already
        topic, command = door_controller.next()
        assert door_controller.pending() == []

    assert (grant.decision, grant.person, grant.door, grant.camera) == ("grant", katie, camera.door, camera)
    assert grant.reason == f"Allowed at {camera.door}"
    assert 0 <= grant.distance < engine().config.match_threshold
    assert (command["action"], command["event_id"], command["door_id"]) == ("open", grant.pk, camera.door.pk)
    assert DoorCommand.objects.get(event=grant).outcome == DoorCommand.Outcome.SENT


def test_the_snapshot_is_the_frame_with_the_face_box_drawn(camera, process):
    allowed("Katie Hill", KATIE, camera)
    first, second = probes(KATIE, 2)
    process(camera, first)

    [grant] = process(camera, second)

    snapshot = snapshot_pixels(grant)
    assert snapshot.shape == second.shape
    [face] = engine().analyse(second)
    x1, y1, x2, y2 = (round(edge) for edge in face.box)
    red, green, blue = snapshot[y1, (x1 + x2) // 2].astype(int)
    assert green > 150 and red < 90 and blue < 90  # the box's top edge, drawn green
    inside = (slice(y1 + 20, y2 - 20), slice(x1 + 20, x2 - 20))
    assert np.abs(snapshot[inside].astype(int) - second[inside]).mean() < 8  # the face itself, untouched


def test_an_unknown_face_is_denied_once_per_passage(camera, process):
    allowed("Katie Hill", KATIE, camera)  # someone is enrolled, just not this person
    frames = probes(STRANGER, 3)

    events = [event for pixels in frames for event in process(camera, pixels)]

    [deny] = events
    assert (deny.decision, deny.person) == ("deny", None)
    assert deny.reason == "Unknown face: matches nobody enrolled"
    assert deny.distance is None or deny.distance >= engine().config.match_threshold
    assert not DoorCommand.objects.exists()


def test_an_enrolled_person_without_an_allow_entry_is_denied_with_the_reason(camera, process):
    enrolled("Katie Hill", KATIE)
    first, second = probes(KATIE, 2)

    [deny] = process(camera, first) + process(camera, second)

    assert (deny.decision, deny.person.name) == ("deny", "Katie Hill")
    assert deny.reason == f"No allow entry in force for {camera.door}"


def test_outside_the_allowed_hours_is_denied(camera, process):
    katie = enrolled("Katie Hill", KATIE)
    entry = AllowEntry.objects.create(person=katie, door=camera.door)
    tomorrow = (timezone.localtime().weekday() + 1) % 7
    ScheduleWindow.objects.create(allow_entry=entry, weekday=tomorrow, starts_at=time(0), ends_at=time(23))
    first, second = probes(KATIE, 2)

    [deny] = process(camera, first) + process(camera, second)

    assert (deny.decision, deny.reason) == ("deny", f"Outside the allowed hours for {camera.door}")


def test_a_suspended_person_is_denied(camera, process):
    katie = allowed("Katie Hill", KATIE, camera)
    katie.status = Person.Status.SUSPENDED
    katie.save()
    first, second = probes(KATIE, 2)

    [deny] = process(camera, first) + process(camera, second)

    assert (deny.decision, deny.reason) == ("deny", "Person is suspended")


def test_a_blocklisted_person_is_denied_with_an_alert_even_if_allowed_and_the_webhook_fires(
    camera, process, settings
):
    presenter = allowed("Presenter", PRESENTER, camera)
    BlockEntry.objects.create(person=presenter, reason="Threatened staff")
    first, second = probes(PRESENTER, 2)

    [alerted] = process(camera, first) + process(camera, second)

    assert (alerted.decision, alerted.person) == ("alert", presenter)
    assert alerted.reason == "Blocklisted: Threatened staff"
    alert = Alert.objects.get()
    assert (alert.kind, alert.event, alert.person, alert.camera, alert.door) == (
        "blocklist", alerted, presenter, camera, camera.door,
    )
    assert not DoorCommand.objects.exists()
    settings.FACEGATE_WEBHOOK_SECRET = "decisions-test-secret"
    with webhook_receiver() as receiver:
        settings.FACEGATE_ALERT_WEBHOOK_URLS = [receiver.url]
        deliver(alert.pk)
    [request] = receiver.requests
    assert b'"blocklist"' in request.body and str(alerted.pk).encode() in request.body


@pytest.mark.parametrize(
    ("policy", "with_allow_entry", "decision", "opens"),
    [
        (MissingPersonPolicy.KEEP_LOCKED, True, "alert", False),
        (MissingPersonPolicy.FOLLOW_ALLOW_LIST, True, "grant", True),
        (MissingPersonPolicy.FOLLOW_ALLOW_LIST, False, "alert", False),
    ],
)
def test_a_missing_person_raises_an_alert_and_the_door_follows_its_policy(
    camera, process, policy, with_allow_entry, decision, opens
):
    camera.door.missing_person_policy = policy
    camera.door.save()
    interviewee = enrolled("Interviewee", INTERVIEWEE)
    if with_allow_entry:
        AllowEntry.objects.create(person=interviewee, door=camera.door)
    MissingEntry.objects.create(person=interviewee, case_number="MP-42", reporting_contact="Sister, 555-0100")
    first, second = probes(INTERVIEWEE, 2)

    [event] = process(camera, first) + process(camera, second)

    assert (event.decision, event.person) == (decision, interviewee)
    assert event.reason.startswith("Reported missing (case MP-42)")
    alert = Alert.objects.get()
    assert (alert.kind, alert.event, alert.person) == ("missing", event, interviewee)
    assert DoorCommand.objects.filter(event=event, action="open").exists() == opens


def test_one_grant_per_passage_across_cameras_of_the_door_within_the_cooldown(camera, process):
    camera.door.cooldown_seconds = 120  # longer than the slowest shared CPU takes for these frames
    camera.door.save()
    katie = allowed("Katie Hill", KATIE, camera)
    second_camera = other_camera(camera)
    first, second, third, fourth = probes(KATIE, 4)

    granted = process(camera, first) + process(camera, second)
    again = process(second_camera, third) + process(second_camera, fourth)

    assert decisions(granted) == [("grant", katie.pk)]
    assert again == []  # a new track, but the same passage
    assert DoorCommand.objects.filter(door=camera.door, action="open").count() == 1


def test_after_the_cooldown_the_next_passage_is_granted_again(camera, process):
    camera.door.cooldown_seconds = 0
    camera.door.save()
    katie = allowed("Katie Hill", KATIE, camera)
    second_camera = other_camera(camera)
    first, second, third, fourth = probes(KATIE, 4)

    granted = process(camera, first) + process(camera, second)
    again = process(second_camera, third) + process(second_camera, fourth)

    assert decisions(granted) == decisions(again) == [("grant", katie.pk)]


def test_a_retried_frame_writes_no_second_event_and_sends_no_second_command(camera, process):
    allowed("Katie Hill", KATIE, camera)
    first, second = probes(KATIE, 2)
    process(camera, first, frame_id="cam-frame-1")

    [grant] = process(camera, second, frame_id="cam-frame-2")
    retried = process(camera, second, frame_id="cam-frame-2")
    retried_first = process(camera, first, frame_id="cam-frame-1")

    assert retried == retried_first == []
    assert list(Event.objects.all()) == [grant]
    assert DoorCommand.objects.count() == 1
    [track] = Track.objects.all()
    assert [seen["frame"] for seen in track.observations] == ["cam-frame-1", "cam-frame-2"]


def test_tracking_keeps_two_people_apart(camera, process):
    katie = allowed("Katie Hill", KATIE, camera)
    alexandria = enrolled("Alexandria Ocasio-Cortez", ALEXANDRIA)
    frames = [side_by_side(frame(KATIE, index), frame(ALEXANDRIA, index)) for index in (100, 102, 104)]
    half = frames[0].shape[1] / 2

    events = [event for pixels in frames for event in process(camera, pixels)]

    by_person = {event.person_id: event for event in events}
    assert sorted(by_person) == sorted([katie.pk, alexandria.pk]) and len(events) == 2
    assert by_person[katie.pk].decision == "grant"
    assert by_person[alexandria.pk].reason == f"No allow entry in force for {camera.door}"
    tracks = list(Track.objects.order_by("box__0"))
    assert len(tracks) == 2
    seen_in_tracks = [{seen["person"] for seen in track.observations} for track in tracks]
    assert seen_in_tracks == [{katie.pk}, {alexandria.pk}]
    assert tracks[0].box[2] <= half <= tracks[1].box[0]


def test_a_stale_frame_is_dropped_and_counted(camera, process):
    allowed("Katie Hill", KATIE, camera)

    assert process(camera, frame(KATIE, 100), captured_at=clock.time() - 5) == []

    assert not Track.objects.exists()
    health = CameraHealth.objects.get(camera=camera)
    assert (health.frames_stale, health.frames_analysed) == (1, 0)


def test_an_analysed_frame_is_counted(camera, process):
    process(camera, frame(STRANGER, 100))

    assert CameraHealth.objects.get(camera=camera).frames_analysed == 1


def test_the_task_decodes_the_frame_and_answers_its_events_and_stage_times(
    camera, django_capture_on_commit_callbacks
):
    allowed("Katie Hill", KATIE, camera)
    first, second = (base64.b64encode(jpeg(pixels)).decode() for pixels in probes(KATIE, 2))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.process_frame(camera.pk, first, clock.time(), "frame-1")
        answer = tasks.process_frame(camera.pk, second, clock.time(), "frame-2")

    assert answer["events"] == [Event.objects.get(decision="grant").pk]
    assert {"recognise", "decide"} <= answer["stages_ms"].keys()
