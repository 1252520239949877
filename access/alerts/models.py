from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from access.cameras.models import Camera
from access.doors.models import Door
from access.events.models import Event
from access.people.models import Person


class Alert(models.Model):
    class Kind(models.TextChoices):
        BLOCKLIST = "blocklist", "Blocklisted person"
        MISSING = "missing", "Missing person"
        CONTROLLER_OFFLINE = "controller_offline", "Door controller offline"
        PIPELINE_DOWN = "pipeline_down", "Camera pipeline quiet"

    class State(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=24, choices=Kind)
    event = models.OneToOneField(
        Event,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alert",
        help_text="The sighting that raised it; empty for equipment alerts.",
    )
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    camera = models.ForeignKey(
        Camera, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    door = models.ForeignKey(
        Door, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    message = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=16, choices=State, default=State.NEW)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "person", "camera", "created_at"], name="alert_sighting_dedup"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["blocklist", "missing", "controller_offline", "pipeline_down"]),
                name="alert_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["blocklist", "missing"]) | Q(event__isnull=False),
                name="alert_sighting_has_event",
                violation_error_message="A blocklist or missing-person alert names the sighting's event.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["new", "acknowledged", "resolved"]), name="alert_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state="new") | Q(acknowledged_at__isnull=False),
                name="alert_acknowledged_has_time",
                violation_error_message="An acknowledged or resolved alert records when it was acknowledged.",
            ),
            models.CheckConstraint(
                condition=~Q(state="resolved") | Q(resolved_at__isnull=False),
                name="alert_resolved_has_time",
                violation_error_message="A resolved alert records when it was resolved.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} alert {self.pk} ({self.state})"

    @property
    def is_sighting(self) -> bool:
        return self.kind in SIGHTING_KINDS


SIGHTING_KINDS = frozenset({Alert.Kind.BLOCKLIST, Alert.Kind.MISSING})


class AlertLock(models.Model):
    """One row per de-duplication key (kind plus person, camera or door).

    Raising an alert updates its key's row before looking for a duplicate, so two workers raising the same
    alert queue up on the row lock (PostgreSQL) or the database write lock (SQLite) instead of both
    finding nothing and both creating one.
    """

    key = models.CharField(max_length=120, unique=True)
    locked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key


class AlertDelivery(models.Model):
    """One notification of one alert to one target, recorded so a retried task never sends it twice."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (retried until the attempts run out)"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel)
    target = models.CharField(max_length=500, help_text="The e-mail address or webhook URL.")
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["alert", "channel", "target"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel", "target"], name="alert_delivery_once"),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "webhook"]), name="alert_delivery_channel"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed"]), name="alert_delivery_status"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="alert_delivery_sent_has_time",
                violation_error_message="A sent delivery records when it was sent.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} of alert {self.alert_id} to {self.target} ({self.status})"
