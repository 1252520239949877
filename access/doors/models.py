from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

MAX_OPEN_SECONDS = 600


class Door(models.Model):
    class ControllerKind(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        HTTP = "http", "HTTP"

    class FailMode(models.TextChoices):
        SECURE = "fail_secure", "Fail-secure (stays locked without power)"
        SAFE = "fail_safe", "Fail-safe (unlocks without power)"

    name = models.CharField(max_length=100, unique=True)
    location = models.CharField(max_length=200, blank=True)
    controller_kind = models.CharField(max_length=8, choices=ControllerKind)
    mqtt_topic = models.CharField(
        "MQTT topic", max_length=200, blank=True, help_text="For MQTT controllers: the topic to publish to."
    )
    http_url = models.CharField(
        "HTTP URL",
        max_length=500,
        blank=True,
        help_text="For HTTP controllers: the URL to call.",
        validators=[URLValidator(schemes=["http", "https"])],
    )
    open_seconds = models.FloatField(default=5.0, help_text="How long the lock stays open after a grant.")
    fail_mode = models.CharField(max_length=16, choices=FailMode, default=FailMode.SECURE)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(controller_kind__in=["mqtt", "http"]), name="door_controller_kind_valid"
            ),
            models.CheckConstraint(
                condition=(Q(controller_kind="mqtt") & ~Q(mqtt_topic="") & Q(http_url=""))
                | (Q(controller_kind="http") & ~Q(http_url="") & Q(mqtt_topic="")),
                name="door_controller_target_matches_kind",
                violation_error_message="An MQTT door needs a topic (no URL); an HTTP door a URL (no topic).",
            ),
            models.CheckConstraint(
                condition=Q(open_seconds__gt=0) & Q(open_seconds__lte=MAX_OPEN_SECONDS),
                name="door_open_seconds_range",
                violation_error_message=f"The open duration must be in (0, {MAX_OPEN_SECONDS}] seconds.",
            ),
            models.CheckConstraint(
                condition=Q(fail_mode__in=["fail_secure", "fail_safe"]), name="door_fail_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DoorGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    doors = models.ManyToManyField(Door, related_name="groups", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
