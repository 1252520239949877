from django.conf import settings
from django.db import models
from django.db.models import Q

from access.events.models import Event


class Alert(models.Model):
    class Kind(models.TextChoices):
        BLOCKLIST = "blocklist", "Blocklisted person"
        MISSING = "missing", "Missing person"

    class State(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=16, choices=Kind)
    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="alert")
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
            models.CheckConstraint(condition=Q(kind__in=["blocklist", "missing"]), name="alert_kind_valid"),
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
