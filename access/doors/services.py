"""Commanding doors, recording what their controllers report, and the watchdog that applies fail modes."""

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from access.alerts.models import Alert
from access.alerts.services import raise_alert
from access.events.models import Event

from .controllers import ControllerError, http, mqtt
from .models import Door, DoorCommand, DoorStatus, LockState

logger = logging.getLogger(__name__)

COMMANDED_STATE = {DoorCommand.Action.LOCK: LockState.LOCKED, DoorCommand.Action.UNLOCK: LockState.UNLOCKED}
FAIL_MODE_ACTION = {
    Door.FailMode.SECURE: DoorCommand.Action.LOCK,
    Door.FailMode.SAFE: DoorCommand.Action.UNLOCK,
}
_SENDERS = {Door.ControllerKind.MQTT: mqtt.send, Door.ControllerKind.HTTP: http.send}


def command_payload(
    door: Door, action: str, reason: str, event: Event | None, command_id: uuid.UUID, at: datetime
) -> dict:
    """The JSON every controller receives, over MQTT and HTTP alike."""
    return {
        "command_id": str(command_id),
        "action": action,
        "door_id": door.pk,
        "door_name": door.name,
        "open_seconds": door.open_seconds,
        "reason": reason,
        "event_id": event.pk if event is not None else None,
        "timestamp": at.isoformat(),
    }


def command_door(
    door: Door,
    action: str,
    *,
    reason: str,
    event: Event | None = None,
    user: AbstractBaseUser | None = None,
) -> DoorCommand:
    """Send `action` to the door's controller and record the command, sent or not; a transport never raises.

    The frame worker calls this inline after a grant, so a broker or relay that is down costs at most
    FACEGATE_DOOR_COMMAND_TIMEOUT_S (per attempt) and leaves a failed DoorCommand saying why.
    """
    if action not in DoorCommand.Action.values:
        raise ValueError(f"Unknown door action {action!r}; expected one of {DoorCommand.Action.values}.")
    requested_at = timezone.now()
    command_id = uuid.uuid4()
    payload = command_payload(door, action, reason, event, command_id, requested_at)
    outcome, error, attempts = DoorCommand.Outcome.SENT, "", 1
    try:
        attempts = _SENDERS[door.controller_kind](door, payload) or 1
    except ControllerError as exc:
        outcome, error, attempts = DoorCommand.Outcome.FAILED, str(exc), exc.attempts
    except Exception as exc:  # whatever the transport throws, the caller (the frame worker) carries on
        logger.exception("Door command %s to %s failed unexpectedly", action, door)
        outcome, error = DoorCommand.Outcome.FAILED, f"{type(exc).__name__}: {exc}"
    if outcome == DoorCommand.Outcome.FAILED:
        logger.warning("Door command %s to %s not sent: %s", action, door, error)
    command = DoorCommand.objects.create(
        command_id=command_id,
        door=door,
        door_name=door.name,
        action=action,
        reason=reason[:300],
        event=event,
        user=user,
        controller_kind=door.controller_kind,
        target=door.mqtt_topic or door.http_url,
        outcome=outcome,
        error=error,
        attempts=attempts,
        requested_at=requested_at,
        completed_at=timezone.now(),
    )
    if outcome == DoorCommand.Outcome.SENT and action in COMMANDED_STATE:
        _commanded_state(door, COMMANDED_STATE[action], command.completed_at)
    return command


def _commanded_state(door: Door, state: LockState, at: datetime) -> None:
    _set_status(door.pk, state=state, state_at=at)
    if door.controller_kind == Door.ControllerKind.MQTT:
        try:
            mqtt.publish_state(door, state)
        except ControllerError as exc:
            logger.warning("The state of %s was not published: %s", door, exc)


def ensure_statuses(door_ids: Iterable[int]) -> None:
    """Make the missing status rows; bulk_create sends no signals, so none of this reaches the audit log."""
    DoorStatus.objects.bulk_create([DoorStatus(door_id=pk) for pk in door_ids], ignore_conflicts=True)


def _set_status(door_id: int, **values) -> None:
    ensure_statuses([door_id])
    DoorStatus.objects.filter(door_id=door_id).update(**values)


def record_heartbeat(door_id: int, state: str | None = None, at: datetime | None = None) -> None:
    """A heartbeat from the door's controller, with the lock state it reports if it does."""
    if state is not None and state not in LockState.values:
        raise ValueError(f"A controller reports its state as one of {LockState.values}; got {state!r}.")
    at = at or timezone.now()
    values = {"last_heartbeat_at": at}
    if state is not None:
        values |= {"state": state, "state_at": at}
    _set_status(door_id, **values)


def record_reported_state(door_id: int, state: str, at: datetime | None = None) -> None:
    if state not in LockState.values:
        raise ValueError(f"A controller reports its state as one of {LockState.values}; got {state!r}.")
    _set_status(door_id, state=state, state_at=at or timezone.now())


def watch_doors(now: datetime | None = None) -> None:
    """Apply or lift each watched door's fail mode from its controller's and its cameras' heartbeats."""
    now = now or timezone.now()
    doors = list(Door.objects.filter(heartbeat_timeout_seconds__isnull=False))
    ensure_statuses(door.pk for door in doors)
    for door in Door.objects.filter(pk__in=[door.pk for door in doors]).select_related("status"):
        watch_door(door, now)


def watch_door(door: Door, now: datetime) -> None:
    status = door.status
    controller_quiet = not door.controller_online(now)
    cameras = list(door.cameras.filter(enabled=True).select_related("health"))
    quiet_cameras = [camera for camera in cameras if _camera_quiet(camera, door, now)]
    # A door is down only when none of its cameras can see; a door with no camera has no pipeline to lose.
    pipeline_down = bool(cameras) and len(quiet_cameras) == len(cameras)

    if controller_quiet and _mark(door, "controller_offline_since", now):
        raise_alert(Alert.Kind.CONTROLLER_OFFLINE, door=door, message=_controller_message(door, status, now))
    elif not controller_quiet:
        _mark(door, "controller_offline_since", None)
    if pipeline_down and _mark(door, "pipeline_down_since", now):
        for camera in quiet_cameras:
            raise_alert(
                Alert.Kind.PIPELINE_DOWN, door=door, camera=camera, message=_pipeline_message(door, camera)
            )
    elif not pipeline_down:
        _mark(door, "pipeline_down_since", None)

    # Conditional updates make "once per outage" hold even when two sweeps overlap.
    outage = controller_quiet or pipeline_down
    if outage and _mark(door, "fail_mode_since", now):
        cause = "its controller" if controller_quiet else "its cameras"
        command_door(
            door,
            FAIL_MODE_ACTION[door.fail_mode],
            reason=f"Fail mode ({door.get_fail_mode_display()}): {cause} went quiet.",
        )
    elif not outage and _mark(door, "fail_mode_since", None):
        command_door(door, DoorCommand.Action.LOCK, reason="Heartbeats are back: normal operation (locked).")


def _mark(door: Door, field: str, since: datetime | None) -> bool:
    """Start (a time) or end (None) an outage mark; True only for the one sweep that changed it."""
    still_other = {f"{field}__isnull": since is not None}
    return DoorStatus.objects.filter(door_id=door.pk, **still_other).update(**{field: since}) == 1


def _camera_quiet(camera, door: Door, now: datetime) -> bool:
    health = getattr(camera, "health", None)
    heartbeat_at = health.heartbeat_at if health is not None else None
    return heartbeat_at is None or now - heartbeat_at > timedelta(seconds=door.heartbeat_timeout_seconds)


def _controller_message(door: Door, status: DoorStatus, now: datetime) -> str:
    if status.last_heartbeat_at is None:
        heard = "has never sent a heartbeat"
    else:
        heard = f"has been quiet for {(now - status.last_heartbeat_at).total_seconds():.0f} s"
    return (
        f"The controller of {door} {heard} (timeout {door.heartbeat_timeout_seconds:g} s); "
        f"{door.get_fail_mode_display()} applied."
    )


def _pipeline_message(door: Door, camera) -> str:
    return (
        f"Camera {camera} has not reported for over {door.heartbeat_timeout_seconds:g} s; no camera sees "
        f"{door}, {door.get_fail_mode_display()} applied."
    )
