"""Alert delivery: e-mail (Django mail) and webhooks (signed JSON), each target reached once.

Each (alert, channel, target) is an AlertDelivery row. A sender claims its row before sending and marks
it sent after, so a retried or duplicated task skips what already went out; a row left "sending" by a
worker that died is claimed again once its lease runs out.

Webhook requests carry `X-FaceGate-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact request body
with FACEGATE_WEBHOOK_SECRET; the body holds `sent_at`, also sent as `X-FaceGate-Timestamp`, so a
receiver can refuse replays.
"""

import hashlib
import hmac
import json
import logging
import urllib.request
from datetime import timedelta
from http.client import HTTPException
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from .models import Alert, AlertDelivery

logger = logging.getLogger(__name__)

# Longer than any one send may take (SMTP and webhook timeouts), so a live sender is never overtaken.
SEND_LEASE = timedelta(seconds=120)
SIGNATURE_HEADER = "X-FaceGate-Signature"
TIMESTAMP_HEADER = "X-FaceGate-Timestamp"
DELIVERY_HEADER = "X-FaceGate-Delivery"


def deliver(alert_id: int) -> list[AlertDelivery]:
    """Send the alert to every configured target it has not reached; the deliveries still to do."""
    alert = Alert.objects.select_related("event", "person", "camera", "door").filter(pk=alert_id).first()
    if alert is None:  # deleted before its delivery ran
        return []
    targets = [(AlertDelivery.Channel.EMAIL, address) for address in settings.FACEGATE_ALERT_EMAILS] + [
        (AlertDelivery.Channel.WEBHOOK, url) for url in settings.FACEGATE_ALERT_WEBHOOK_URLS
    ]
    unfinished = []
    for channel, target in targets:
        delivery, _ = AlertDelivery.objects.get_or_create(alert=alert, channel=channel, target=target)
        if delivery.status == AlertDelivery.Status.SENT:
            continue
        if not _claim(delivery):
            unfinished.append(delivery)  # another worker is sending it right now
            continue
        if not _send(delivery, alert):
            unfinished.append(delivery)
    return unfinished


def retry_delay_s(retries_so_far: int) -> float:
    """Exponential backoff between delivery rounds: 5 s, 10 s, 20 s... capped at 10 minutes."""
    return min(5.0 * 2**retries_so_far, 600.0)


def _claim(delivery: AlertDelivery) -> bool:
    now = timezone.now()
    claimable = Q(status__in=[AlertDelivery.Status.PENDING, AlertDelivery.Status.FAILED]) | Q(
        status=AlertDelivery.Status.SENDING, last_attempt_at__lt=now - SEND_LEASE
    )
    return bool(
        AlertDelivery.objects.filter(claimable, pk=delivery.pk).update(
            status=AlertDelivery.Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now
        )
    )


def _send(delivery: AlertDelivery, alert: Alert) -> bool:
    sender = _send_email if delivery.channel == AlertDelivery.Channel.EMAIL else _post_webhook
    try:
        sender(alert, delivery)
    except (OSError, HTTPException) as exc:  # SMTP errors, refused connections, timeouts, HTTP 4xx/5xx
        logger.warning("Alert %s: %s to %s failed: %s", alert.pk, delivery.channel, delivery.target, exc)
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return False
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def _send_email(alert: Alert, delivery: AlertDelivery) -> None:
    payload = alert_payload(alert)
    lines = [
        f"{alert.get_kind_display()} (alert {alert.pk})",
        f"Person: {alert.person.name} ({alert.person.external_id})" if alert.person else "",
        f"Camera: {alert.camera.name}" if alert.camera else "",
        f"Door: {alert.door.name}" if alert.door else "",
        f"Decision: {alert.event.get_decision_display()}, {alert.event.reason}" if alert.event else "",
        f"Time: {payload['alert']['created_at']}",
        alert.message,
        f"Snapshot: {payload['snapshot_url']}" if payload["snapshot_url"] else "",
        f"Acknowledge or resolve: {payload['alert']['url']}",
    ]
    send_mail(
        subject=f"[FaceGate] {_headline(alert)}",
        message="\n".join(line for line in lines if line),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[delivery.target],
    )


def _headline(alert: Alert) -> str:
    where = alert.door or alert.camera
    who = f": {alert.person.name}" if alert.person else ""
    return f"{alert.get_kind_display()}{who}" + (f" at {where.name}" if where else "")


def _post_webhook(alert: Alert, delivery: AlertDelivery) -> None:
    payload = alert_payload(alert)
    body = json.dumps(payload, separators=(",", ":")).encode()
    request = urllib.request.Request(
        delivery.target,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "FaceGate-alerts",
            SIGNATURE_HEADER: f"sha256={sign(body)}",
            TIMESTAMP_HEADER: payload["sent_at"],
            DELIVERY_HEADER: str(delivery.pk),
        },
    )
    with urllib.request.urlopen(request, timeout=settings.FACEGATE_WEBHOOK_TIMEOUT_S) as response:
        response.read()  # urlopen raised already for any status >= 400


def sign(body: bytes) -> str:
    """The hex HMAC-SHA256 of the body with FACEGATE_WEBHOOK_SECRET."""
    return hmac.new(settings.FACEGATE_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def _absolute(path: str) -> str:
    return settings.FACEGATE_PUBLIC_URL.rstrip("/") + path


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The webhook body: the alert, its event, person, camera and door, and an absolute snapshot link."""
    event, person = alert.event, alert.person
    snapshot_url = None
    if event and event.snapshot:
        snapshot_url = _absolute(reverse("api:event-snapshot", args=[event.pk]))
    return {
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "state": alert.state,
            "message": alert.message,
            "created_at": alert.created_at.isoformat(),
            "url": _absolute(reverse("api:alert-detail", args=[alert.pk])),
        },
        "kind": alert.kind,
        "event": {
            "id": event.pk,
            "decision": event.decision,
            "distance": event.distance,
            "reason": event.reason,
            "time": event.occurred_at.isoformat(),
        }
        if event
        else None,
        "person": {"id": person.pk, "name": person.name, "external_id": person.external_id}
        if person
        else None,
        "camera": {"id": alert.camera.pk, "name": alert.camera.name} if alert.camera else None,
        "door": {"id": alert.door.pk, "name": alert.door.name} if alert.door else None,
        "snapshot_url": snapshot_url,
        "sent_at": timezone.now().isoformat(),
    }
