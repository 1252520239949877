from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

MAX_OPEN_SECONDS = 600


class MissingPersonPolicy(models.TextChoices):
    KEEP_LOCKED = "keep_locked", "Keep locked"
    FOLLOW_ALLOW_LIST = "follow_allow_list", "Open if the allow list lets them in"


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

    # How the frames of a person passing become one decision: K of the last N frames must name the same
    # allowed person, all within T seconds; after a grant the door ignores that person for the cooldown.
    grant_frames = models.PositiveSmallIntegerField(
        "frames to agree (K)", default=2, help_text="Frames that must name the same allowed person."
    )
    window_frames = models.PositiveSmallIntegerField(
        "frames considered (N)", default=3, help_text="How many recent frames of a passing face are counted."
    )
    window_seconds = models.FloatField(
        "window (T, seconds)", default=2.0, help_text="The agreeing frames fall within this many seconds."
    )
    cooldown_seconds = models.FloatField(
        default=5.0, help_text="After a grant, that person is not granted again at this door for this long."
    )
    missing_person_policy = models.CharField(
        max_length=24,
        choices=MissingPersonPolicy,
        default=MissingPersonPolicy.KEEP_LOCKED,
        help_text="What the door does for a person reported missing; an alert is raised either way.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grant_frames__gte=1) & Q(window_frames__gte=models.F("grant_frames")),
                name="door_grant_frames_within_window",
                violation_error_message="K must be at least 1 and at most N.",
            ),
            models.CheckConstraint(
                condition=Q(window_seconds__gt=0) & Q(cooldown_seconds__gte=0),
                name="door_window_and_cooldown_range",
                violation_error_message="The window must be positive and the cooldown not negative.",
            ),
            models.CheckConstraint(
                condition=Q(missing_person_policy__in=["keep_locked", "follow_allow_list"]),
                name="door_missing_person_policy_valid",
            ),
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
