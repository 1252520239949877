from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from access.core.errors import Conflict
from access.events.models import Event

from .models import Alert


class InvalidTransition(Conflict):
    """The alert is not in a state that allows this step."""


def raise_alert(event: Event, kind: Alert.Kind) -> Alert:
    """The event's alert, made once however often it is asked for."""
    alert, _ = Alert.objects.get_or_create(event=event, defaults={"kind": kind})
    return alert


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
