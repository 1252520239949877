from django.conf import settings
from django.db import models
from django.db.models import Q

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
