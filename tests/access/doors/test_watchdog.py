"""The watchdog: a quiet controller or a blind door gets its fail mode once per outage, an alert, and a return
to normal (locked) when heartbeats come back. Times are passed in, so nothing here waits for a clock."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from access.alerts.models import Alert
from access.cameras.models import Camera, CameraHealth
from access.doors.models import Door, DoorCommand, DoorStatus
from access.doors.services import record_heartbeat, watch_doors

TIMEOUT_S = 30.0


@pytest.fixture
def now():
    return timezone.now()


def _commands(door: Door) -> list[tuple[str, str]]:
    return list(
        DoorCommand.objects.filter(door=door).order_by("requested_at").values_list("action", "outcome")
    )


@pytest.mark.parametrize(
    ("fail_mode", "action", "state"),
    [("fail_secure", "lock", b"locked"), ("fail_safe", "unlock", b"unlocked")],
)
def test_a_controller_that_stops_its_heartbeat_triggers_the_fail_mode(
    subscribe, mqtt_door, now, fail_mode, action, state
):
    mqtt_door.fail_mode = fail_mode
    mqtt_door.save()
    controller = subscribe()
    record_heartbeat(mqtt_door.pk, state="locked", at=now - timedelta(seconds=TIMEOUT_S - 1))
    watch_doors(now)
    assert _commands(mqtt_door) == []  # still within its timeout

    watch_doors(now + timedelta(seconds=2))

    command = json.loads(controller.next_on(f"{mqtt_door.mqtt_topic}/set").payload)
    assert command["action"] == action
    assert "Fail mode" in command["reason"]
    assert controller.next_on(f"{mqtt_door.mqtt_topic}/state").payload == state
    alert = Alert.objects.get(kind=Alert.Kind.CONTROLLER_OFFLINE, door=mqtt_door)
    assert "quiet for 31 s" in alert.message
    status = DoorStatus.objects.get(door=mqtt_door)
    assert status.fail_mode_active and status.controller_offline_since is not None

    watch_doors(now + timedelta(seconds=10))  # the same outage: nothing more is sent or raised
    assert _commands(mqtt_door) == [(action, "sent")]
    assert Alert.objects.filter(door=mqtt_door).count() == 1

    record_heartbeat(mqtt_door.pk, at=now + timedelta(seconds=11))
    watch_doors(now + timedelta(seconds=12))

    assert _commands(mqtt_door) == [(action, "sent"), ("lock", "sent")]
    restore = json.loads(controller.next_on(f"{mqtt_door.mqtt_topic}/set").payload)
    assert restore["action"] == "lock" and "normal operation" in restore["reason"]
    status.refresh_from_db()
    assert not status.fail_mode_active and status.controller_offline_since is None
    assert status.state == "locked"


def test_a_controller_never_heard_from_is_offline(settings, http_door, now):
    watch_doors(now)

    assert _commands(http_door) == [("lock", "sent")]
    assert (
        "has never sent a heartbeat" in Alert.objects.get(kind="controller_offline", door=http_door).message
    )


def test_a_new_outage_after_recovery_acts_again(settings, mqtt_door, now):
    settings.MQTT_URL = ""  # the outcome does not matter here, only that each outage acts once
    watch_doors(now)
    record_heartbeat(mqtt_door.pk, at=now + timedelta(seconds=1))
    watch_doors(now + timedelta(seconds=2))
    watch_doors(now + timedelta(seconds=TIMEOUT_S + 5))

    assert [action for action, _ in _commands(mqtt_door)] == ["lock", "lock", "lock"]


def test_an_unwatched_door_is_left_alone(settings, mqtt_door, now):
    settings.MQTT_URL = ""
    mqtt_door.heartbeat_timeout_seconds = None
    mqtt_door.save()

    watch_doors(now)

    assert _commands(mqtt_door) == [] and not Alert.objects.exists()


def _camera(door: Door, name: str, heartbeat_at) -> Camera:
    camera = Camera.objects.create(name=name, source_url="rtsp://10.0.0.9/s", door=door)
    CameraHealth.objects.create(camera=camera, heartbeat_at=heartbeat_at)
    return camera


def test_a_door_whose_cameras_all_went_quiet_fails_safe_and_alerts(subscribe, mqtt_door, now):
    mqtt_door.fail_mode = "fail_safe"
    mqtt_door.save()
    controller = subscribe()
    record_heartbeat(mqtt_door.pk, at=now)
    left = _camera(mqtt_door, "Left", now - timedelta(seconds=60))
    right = _camera(mqtt_door, "Right", now - timedelta(seconds=5))

    watch_doors(now)
    assert _commands(mqtt_door) == []  # one camera still sees the door

    CameraHealth.objects.filter(camera=right).update(heartbeat_at=now - timedelta(seconds=45))
    watch_doors(now)

    assert json.loads(controller.next_on(f"{mqtt_door.mqtt_topic}/set").payload)["action"] == "unlock"
    alerts = Alert.objects.filter(kind=Alert.Kind.PIPELINE_DOWN, door=mqtt_door)
    assert {alert.camera for alert in alerts} == {left, right}
    assert not Alert.objects.filter(kind=Alert.Kind.CONTROLLER_OFFLINE).exists()

    CameraHealth.objects.filter(camera=left).update(heartbeat_at=now + timedelta(seconds=3))
    record_heartbeat(mqtt_door.pk, at=now + timedelta(seconds=3))
    watch_doors(now + timedelta(seconds=4))

    assert _commands(mqtt_door) == [("unlock", "sent"), ("lock", "sent")]
    assert DoorStatus.objects.get(door=mqtt_door).pipeline_down_since is None


def test_a_camera_that_never_reported_counts_as_quiet_and_a_disabled_one_not_at_all(settings, mqtt_door, now):
    settings.MQTT_URL = ""
    record_heartbeat(mqtt_door.pk, at=now)
    Camera.objects.create(name="Never started", source_url="rtsp://10.0.0.9/s", door=mqtt_door)
    Camera.objects.create(name="Switched off", source_url="rtsp://10.0.0.8/s", door=mqtt_door, enabled=False)

    watch_doors(now)

    assert Alert.objects.get(kind="pipeline_down").camera.name == "Never started"


def test_a_door_without_cameras_has_no_pipeline_to_lose(settings, mqtt_door, now):
    settings.MQTT_URL = ""
    record_heartbeat(mqtt_door.pk, at=now)

    watch_doors(now)

    assert _commands(mqtt_door) == [] and not Alert.objects.exists()
