from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from access.cameras.models import Camera
from access.core.errors import Conflict
from access.doors.models import Door
from access.events.models import Event
from access.people.models import Person

from .models import SIGHTING_KINDS, Alert, AlertLock
from .tasks import deliver_alert


class InvalidTransition(Conflict):
    """The alert is not in a state that allows this step."""


def raise_alert(
    kind: str,
    *,
    event: Event | None = None,
    person: Person | None = None,
    camera: Camera | None = None,
    door: Door | None = None,
    message: str = "",
) -> tuple[Alert, bool]:
    """The alert for this sighting or equipment fault, and whether it is new.

    A sighting (blocklist, missing) names its event; person, camera and door default to the event's. It is
    de-duplicated per (kind, person, camera): while an unresolved alert of the last
    FACEGATE_ALERT_DEDUP_SECONDS covers it, that alert is returned and the event stays without one. An
    equipment alert (controller offline, pipeline down) is de-duplicated per (kind, door, camera) until it
    is resolved. A new alert is delivered (e-mail, webhooks) once the transaction commits.

    Call it after the event has committed, in its own transaction: it holds a lock on the key until then.
    """
    if kind not in Alert.Kind.values:
        raise ValueError(f"Unknown alert kind {kind!r}; expected one of {Alert.Kind.values}.")
    sighting = kind in SIGHTING_KINDS
    if sighting:
        if event is None:
            raise ValueError(f"A {kind} alert names the event of the sighting.")
        person = person or event.person
        camera = camera or event.camera
        door = door or event.door
    with transaction.atomic():
        _lock(_dedup_key(kind, person, camera, door, sighting))
        if event is not None and (raised := Alert.objects.filter(event=event).first()) is not None:
            return raised, False
        covering = _covering_alert(kind, person, camera, door, sighting)
        if covering is not None:
            return covering, False
        alert = Alert.objects.create(
            kind=kind, event=event, person=person, camera=camera, door=door, message=message[:300]
        )
        transaction.on_commit(partial(deliver_alert.delay, alert.pk))
        return alert, True


def _dedup_key(
    kind: str, person: Person | None, camera: Camera | None, door: Door | None, sighting: bool
) -> str:
    camera_id = camera.pk if camera else "-"
    if sighting:
        return f"{kind}:person={person.pk if person else '-'}:camera={camera_id}"
    return f"{kind}:door={door.pk if door else '-'}:camera={camera_id}"


def _lock(key: str) -> None:
    """Hold the key's lock until the transaction ends (see AlertLock)."""
    now = timezone.now()
    if AlertLock.objects.filter(key=key).update(locked_at=now):
        return
    try:
        with transaction.atomic():
            AlertLock.objects.create(key=key, locked_at=now)
    except IntegrityError:  # another worker made the row first: wait for its lock
        AlertLock.objects.filter(key=key).update(locked_at=now)


def _covering_alert(
    kind: str, person: Person | None, camera: Camera | None, door: Door | None, sighting: bool
) -> Alert | None:
    unresolved = Alert.objects.filter(kind=kind, camera=camera).exclude(state=Alert.State.RESOLVED)
    if sighting:
        window_start = timezone.now() - timedelta(seconds=settings.FACEGATE_ALERT_DEDUP_SECONDS)
        return unresolved.filter(person=person, created_at__gte=window_start).order_by("-created_at").first()
    return unresolved.filter(door=door).order_by("-created_at").first()


def acknowledge(alert: Alert, user: AbstractBaseUser) -> Alert:
    if alert.state != Alert.State.NEW:
        raise InvalidTransition(f"Alert {alert.pk} is already {alert.state}.")
    alert.state = Alert.State.ACKNOWLEDGED
    alert.acknowledged_by, alert.acknowledged_at = user, timezone.now()
    alert.save()
    return alert


def resolve(alert: Alert, user: AbstractBaseUser, note: str = "") -> Alert:
    """Close the alert; resolving a new alert acknowledges it in the same step."""
    if alert.state == Alert.State.RESOLVED:
        raise InvalidTransition(f"Alert {alert.pk} is already resolved.")
    now = timezone.now()
    if alert.state == Alert.State.NEW:
        alert.acknowledged_by, alert.acknowledged_at = user, now
    alert.state = Alert.State.RESOLVED
    alert.resolved_by, alert.resolved_at, alert.resolution_note = user, now, note
    alert.save()
    return alert
