"""command_door against a real Mosquitto and a real HTTP relay; every command is recorded, sent or not."""

import json
import socket
import uuid
from datetime import datetime

import pytest

from access.doors.models import DoorCommand, DoorStatus
from access.doors.services import command_door
from access.events.services import record_event


def test_a_grant_reaches_the_controller_at_qos_1_with_the_command_json(subscribe, mqtt_door, person):
    controller = subscribe()
    event, _ = record_event("grant-1", door=mqtt_door, person=person, decision="grant", reason="Allowed")

    command = command_door(mqtt_door, "open", reason="Allowed at Front door", event=event)

    message = controller.next_on(f"{mqtt_door.mqtt_topic}/set")
    assert message.qos == 1
    assert not message.retain
    payload = json.loads(message.payload)
    assert payload == {
        "command_id": str(command.command_id),
        "action": "open",
        "door_id": mqtt_door.pk,
        "door_name": "Front door",
        "open_seconds": 5.0,
        "reason": "Allowed at Front door",
        "event_id": event.pk,
        "timestamp": payload["timestamp"],
    }
    assert abs((datetime.fromisoformat(payload["timestamp"]) - command.requested_at).total_seconds()) < 1e-3
    uuid.UUID(payload["command_id"])
    stored = DoorCommand.objects.get()
    assert (stored.outcome, stored.error, stored.event) == ("sent", "", event)
    assert stored.target == mqtt_door.mqtt_topic
    assert stored.door_name == "Front door" and stored.requested_at <= stored.completed_at


def test_each_command_has_its_own_id(subscribe, mqtt_door):
    controller = subscribe()

    first = command_door(mqtt_door, "open", reason="Manual")
    second = command_door(mqtt_door, "open", reason="Manual")

    received = [controller.next_on(f"{mqtt_door.mqtt_topic}/set") for _ in range(2)]
    ids = [json.loads(message.payload)["command_id"] for message in received]
    assert ids == [str(first.command_id), str(second.command_id)]
    assert first.command_id != second.command_id


def test_a_late_subscriber_finds_retained_state_and_home_assistant_discovery(subscribe, mqtt_door, settings):
    command_door(mqtt_door, "unlock", reason="Open day")
    command_door(mqtt_door, "lock", reason="Open day over")

    late = subscribe()
    state = late.next_on(f"{mqtt_door.mqtt_topic}/state")
    assert (state.payload, state.retain) == (b"locked", True)
    discovery = late.next_on(
        f"{settings.FACEGATE_HA_DISCOVERY_PREFIX}/lock/facegate_door_{mqtt_door.pk}/config"
    )
    assert discovery.retain
    config = json.loads(discovery.payload)
    topic = mqtt_door.mqtt_topic
    assert config["unique_id"] == f"facegate_door_{mqtt_door.pk}"
    assert config["command_topic"] == f"{topic}/set"
    assert config["state_topic"] == f"{topic}/state"
    assert config["availability_topic"] == f"{topic}/availability"
    assert (config["state_locked"], config["state_unlocked"]) == ("locked", "unlocked")
    assert json.loads(config["payload_open"])["action"] == "open"
    assert config["device"]["name"] == "Front door"
    assert DoorStatus.objects.get(door=mqtt_door).state == "locked"


def test_an_open_leaves_the_reported_state_to_the_controller(subscribe, mqtt_door):
    command_door(mqtt_door, "open", reason="Visitor")

    late = subscribe()
    topics = {message.topic for message in late.drain()}
    assert f"{mqtt_door.mqtt_topic}/state" not in topics
    assert not DoorStatus.objects.filter(door=mqtt_door).exclude(state="").exists()


def test_without_a_broker_the_command_is_recorded_as_not_sent(settings, mqtt_door):
    settings.MQTT_URL = ""

    command = command_door(mqtt_door, "open", reason="Allowed")

    assert command.outcome == "failed"
    assert "MQTT_URL is empty" in command.error
    assert DoorCommand.objects.get().outcome == "failed"


def test_an_unreachable_broker_is_recorded_as_not_sent(settings, mqtt_door):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.MQTT_URL = f"mqtt://127.0.0.1:{closed.getsockname()[1]}"
    settings.FACEGATE_DOOR_COMMAND_TIMEOUT_S = 0.3

    command = command_door(mqtt_door, "open", reason="Allowed")

    assert command.outcome == "failed"
    assert "did not accept a connection" in command.error


def test_http_commands_are_signed_json(http_door, relay):
    command = command_door(http_door, "open", reason="Allowed at Side gate")

    (request,) = relay.requests
    assert request.signature_valid
    assert request.path == "/relay/1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json["command_id"] == str(command.command_id)
    assert (request.json["action"], request.json["open_seconds"]) == ("open", 3.0)
    assert (command.outcome, command.attempts) == ("sent", 1)


def test_http_retries_after_a_failure(http_door, relay):
    relay.failures_left = 1

    command = command_door(http_door, "open", reason="Allowed")

    assert len(relay.requests) == 2
    assert all(request.signature_valid for request in relay.requests)
    assert relay.requests[0].json["command_id"] == relay.requests[1].json["command_id"]
    assert (command.outcome, command.attempts, command.error) == ("sent", 2, "")


def test_http_gives_up_after_its_attempts(http_door, relay, settings):
    relay.failures_left = 10
    settings.FACEGATE_DOOR_HTTP_ATTEMPTS = 3

    command = command_door(http_door, "unlock", reason="Fire drill")

    assert len(relay.requests) == 3
    assert (command.outcome, command.attempts) == ("failed", 3)
    assert "503" in command.error and "after 3 attempts" in command.error
    assert not DoorStatus.objects.filter(door=http_door, state="unlocked").exists()


def test_http_does_not_retry_a_refusal(http_door, relay):
    relay.failures_left, relay.failure_status = 10, 403

    command = command_door(http_door, "open", reason="Allowed")

    assert len(relay.requests) == 1
    assert (command.outcome, command.attempts) == ("failed", 1)
    assert "403" in command.error


def test_a_relay_that_checks_signatures_refuses_another_secret(http_door, relay, settings):
    settings.FACEGATE_DOOR_HMAC_SECRET = "not-the-relays-secret"

    command = command_door(http_door, "open", reason="Allowed")

    assert not relay.requests[0].signature_valid
    assert command.outcome == "failed" and "401" in command.error


def test_http_commands_are_not_sent_unsigned(http_door, relay, settings):
    settings.FACEGATE_DOOR_HMAC_SECRET = ""

    command = command_door(http_door, "open", reason="Allowed")

    assert relay.requests == []
    assert (command.outcome, command.attempts) == ("failed", 0)
    assert "FACEGATE_DOOR_HMAC_SECRET" in command.error


def test_an_unreachable_relay_is_recorded(http_door, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        http_door.http_url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    settings.FACEGATE_DOOR_HTTP_ATTEMPTS = 2

    command = command_door(http_door, "open", reason="Allowed")

    assert (command.outcome, command.attempts) == ("failed", 2)
    assert "could not be reached" in command.error


def test_an_unknown_action_is_a_programming_error(mqtt_door):
    with pytest.raises(ValueError, match="Unknown door action"):
        command_door(mqtt_door, "explode", reason="?")
    assert not DoorCommand.objects.exists()

