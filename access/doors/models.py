import uuid
from datetime import datetime

from django.conf import settings
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
    heartbeat_timeout_seconds = models.FloatField(
        null=True,
        blank=True,
        default=30.0,
        help_text=(
            "The door's controller, or all of its cameras, quiet for longer than this puts the door in its "
            "fail mode and raises an alert. Empty: not watched (a controller that sends no heartbeats)."
        ),
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
            models.CheckConstraint(
                condition=Q(heartbeat_timeout_seconds__isnull=True) | Q(heartbeat_timeout_seconds__gt=0),
                name="door_heartbeat_timeout_positive",
                violation_error_message="The heartbeat timeout must be positive (or empty: not watched).",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_watched(self) -> bool:
        return self.heartbeat_timeout_seconds is not None

    def controller_online(self, now: datetime) -> bool | None:
        """Whether the controller has sent a heartbeat within its timeout; None for a door not watched."""
        if not self.is_watched:
            return None
        status = getattr(self, "status", None)
        heartbeat_at = status.last_heartbeat_at if status is not None else None
        return (
            heartbeat_at is not None
            and (now - heartbeat_at).total_seconds() <= self.heartbeat_timeout_seconds
        )


class LockState(models.TextChoices):
    LOCKED = "locked", "Locked"
    UNLOCKED = "unlocked", "Unlocked"


class DoorStatus(models.Model):
    """What is known about a door's controller right now: one row per door, written with update() only.

    Heartbeats arrive every few seconds; plain updates keep them out of the audit log and never race
    the edits people make to the door itself.
    """

    door = models.OneToOneField(Door, on_delete=models.CASCADE, primary_key=True, related_name="status")
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(
        max_length=8,
        choices=LockState,
        blank=True,
        help_text="As the controller last reported or was commanded.",
    )
    state_at = models.DateTimeField(null=True, blank=True)
    controller_offline_since = models.DateTimeField(null=True, blank=True)
    pipeline_down_since = models.DateTimeField(null=True, blank=True)
    fail_mode_since = models.DateTimeField(
        null=True, blank=True, help_text="When the fail mode was applied; empty in normal operation."
    )

    class Meta:
        verbose_name_plural = "door statuses"
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["", "locked", "unlocked"]), name="doorstatus_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Status of {self.door}"

    @property
    def fail_mode_active(self) -> bool:
        return self.fail_mode_since is not None


class DoorCommand(models.Model):
    """One command sent, or not sent, to a door's controller: nothing a door was told is lost silently."""

    class Action(models.TextChoices):
        OPEN = "open", "Open for the door's open duration"
        LOCK = "lock", "Lock"
        UNLOCK = "unlock", "Unlock until told otherwise"

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"

    command_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    door = models.ForeignKey(Door, on_delete=models.SET_NULL, null=True, related_name="commands")
    door_name = models.CharField(max_length=100, help_text="Kept when the door is deleted.")
    action = models.CharField(max_length=8, choices=Action)
    reason = models.CharField(max_length=300)
    event = models.ForeignKey(
        "events.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="door_commands"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who asked for it; empty for commands from the pipeline or the watchdog.",
    )
    controller_kind = models.CharField(max_length=8, choices=Door.ControllerKind)
    target = models.CharField(max_length=500, help_text="The MQTT topic or URL the command went to.")
    outcome = models.CharField(max_length=8, choices=Outcome)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["open", "lock", "unlock"]), name="doorcommand_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome="sent", error="") | (Q(outcome="failed") & ~Q(error="")),
                name="doorcommand_failure_has_error",
                violation_error_message="A command not sent says why; a sent one carries no error.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.door_name} ({self.outcome})"


class DoorGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    doors = models.ManyToManyField(Door, related_name="groups", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
