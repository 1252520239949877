from django.db import models
from django.db.models import Q
from django.utils import timezone

from access.cameras.models import Camera
from access.core.storage import encrypted_storage
from access.doors.models import Door
from access.people.models import Person


class Event(models.Model):
    """One access decision, written once: a retried task finds its idempotency key taken."""

    class Decision(models.TextChoices):
        GRANT = "grant", "Grant"
        DENY = "deny", "Deny"
        ALERT = "alert", "Alert (deny and raise an alert)"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    camera = models.ForeignKey(
        Camera, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    door = models.ForeignKey(Door, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    person = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        help_text="Empty when the face matched nobody.",
    )
    distance = models.FloatField(null=True, blank=True, help_text="Face-code distance to the best match.")
    decision = models.CharField(max_length=8, choices=Decision)
    reason = models.CharField(max_length=300)
    snapshot = models.FileField(upload_to="snapshots/", storage=encrypted_storage, blank=True, editable=False)
    face_box = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The decided face's box in the snapshot: [left, top, right, bottom], each a fraction of "
        "the snapshot's width or height, so it can be drawn over any frame of the camera at any size.",
    )
    idempotency_key = models.CharField(max_length=100, unique=True, editable=False)

    class Meta:
        ordering = ["-occurred_at"]
        # A camera's newest decisions (the cameras page) are read from this index, however many are kept.
        indexes = [models.Index(fields=["camera", "-occurred_at"], name="event_camera_newest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=["grant", "deny", "alert"]), name="event_decision_valid"
            ),
            models.CheckConstraint(
                condition=Q(distance__isnull=True) | Q(distance__gte=0), name="event_distance_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(decision="grant") | Q(person__isnull=False),
                name="event_grant_names_person",
                violation_error_message="A grant must name the person let in.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} at {self.door or self.camera}, {self.occurred_at:%Y-%m-%d %H:%M:%S}"
