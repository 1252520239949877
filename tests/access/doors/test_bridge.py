"""run_door_bridge on the real broker: it stores what MQTT controllers say and announces the doors."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from access.doors.bridge import DoorBridge
from access.doors.models import DoorStatus
from tests.access.doors.conftest import WAIT_S
from tests.conftest import REPO_ROOT, start_process_group, stop_process_group, worker_environment


@pytest.fixture
def bridge(mqtt_broker):
    bridge = DoorBridge(mqtt_broker)
    bridge.start()
    assert bridge.connected.wait(WAIT_S)
    yield bridge
    bridge.close()


def _status_until(bridge: DoorBridge, door, condition, send=lambda: None) -> DoorStatus:
    """Let the bridge store what it receives until the door's status meets the condition."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        send()
        bridge.store_received(wait_s=0.2)
        status = DoorStatus.objects.filter(door=door).first()
        if status is not None and condition(status):
            return status
    pytest.fail(f"the bridge did not store the expected status of {door} within {WAIT_S} s")


def test_heartbeats_and_reported_states_are_stored(subscribe, bridge, mqtt_door):
    controller = subscribe()
    bridge.sync()
    topic = mqtt_door.mqtt_topic

    # The bridge may still be subscribing: a controller heartbeats every few seconds anyway.
    status = _status_until(
        bridge,
        mqtt_door,
        lambda status: status.last_heartbeat_at is not None,
        send=lambda: controller.publish(f"{topic}/heartbeat", json.dumps({"state": "unlocked"})),
    )
    assert status.state == "unlocked"

    controller.publish(f"{topic}/state", "locked", retain=True)
    _status_until(bridge, mqtt_door, lambda status: status.state == "locked")


def test_a_retained_heartbeat_is_not_a_sign_of_life(subscribe, bridge, mqtt_door):
    controller = subscribe()
    controller.publish(f"{mqtt_door.mqtt_topic}/heartbeat", "", retain=True)
    controller.publish(f"{mqtt_door.mqtt_topic}/state", "unlocked", retain=True)

    bridge.sync()

    # The retained state arrives on subscribing; the retained heartbeat with it is ignored.
    _status_until(bridge, mqtt_door, lambda status: status.state == "unlocked")
    bridge.store_received(wait_s=0.5)  # whichever of the two retained messages came second
    assert DoorStatus.objects.get(door=mqtt_door).last_heartbeat_at is None


def test_the_bridge_announces_doors_and_their_availability(subscribe, bridge, mqtt_door, settings):
    home_assistant = subscribe()

    bridge.sync()

    config = home_assistant.next_on(
        f"{settings.FACEGATE_HA_DISCOVERY_PREFIX}/lock/facegate_door_{mqtt_door.pk}/config"
    )
    assert json.loads(config.payload)["command_topic"] == f"{mqtt_door.mqtt_topic}/set"
    assert home_assistant.next_on(f"{mqtt_door.mqtt_topic}/availability").payload == b"offline"

    controller = subscribe()
    _status_until(
        bridge,
        mqtt_door,
        lambda status: status.last_heartbeat_at is not None,
        send=lambda: controller.publish(f"{mqtt_door.mqtt_topic}/heartbeat", ""),
    )
    bridge.sync()
    assert home_assistant.next_on(f"{mqtt_door.mqtt_topic}/availability").payload == b"online"

    mqtt_door.delete()
    bridge.sync()
    removed = home_assistant.next_on(config.topic)
    assert removed.payload == b""


@pytest.mark.django_db(transaction=True)
def test_the_command_bridges_a_controller_until_stopped(
    subscribe, mqtt_broker, mqtt_door, settings, tmp_path
):
    env = {
        **worker_environment(tmp_path / "media"),
        "MQTT_URL": mqtt_broker,
        "FACEGATE_HA_DISCOVERY_PREFIX": settings.FACEGATE_HA_DISCOVERY_PREFIX,
    }
    log = tmp_path / "bridge.log"
    process = start_process_group(
        [sys.executable, "manage.py", "run_door_bridge", "--refresh", "0.5"], env, log
    )
    try:
        controller = subscribe()
        deadline = time.monotonic() + 60  # Django and paho start first
        while not DoorStatus.objects.filter(door=mqtt_door, last_heartbeat_at__isnull=False).exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            controller.publish(f"{mqtt_door.mqtt_topic}/heartbeat", json.dumps({"state": "locked"}))
            time.sleep(0.2)
    finally:
        stop_process_group(process, grace_s=10)
    assert process.returncode == 0, log.read_text()
    assert DoorStatus.objects.get(door=mqtt_door).state == "locked"


def test_without_a_broker_the_command_idles_until_stopped(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "access.settings.test",
        "MQTT_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_door_bridge"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "MQTT_URL is empty" in process.stdout.readline()
        assert process.poll() is None  # honcho would stop every process if this one ended
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
