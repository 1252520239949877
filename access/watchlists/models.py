from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from access.doors.models import Door, DoorGroup
from access.people.models import Person


class AllowEntryQuerySet(models.QuerySet):
    def in_force(self, at: datetime) -> "AllowEntryQuerySet":
        return self.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at), valid_from__lte=at)

    def for_door(self, door: Door) -> "AllowEntryQuerySet":
        return self.filter(Q(door=door) | Q(door_group__doors=door)).distinct()

    def with_schedule_open(self, at: datetime) -> "AllowEntryQuerySet":
        """Annotated `schedule_open`: whether `at` (local time) falls in one of the entry's weekly windows; an
        entry without windows is open at any hour."""
        local, windows = timezone.localtime(at), ScheduleWindow.objects.filter(allow_entry=OuterRef("pk"))
        day, time_of_day = local.weekday(), local.time()
        open_now = windows.filter(weekday=day, starts_at__lte=time_of_day, ends_at__gt=time_of_day)
        return self.annotate(
            schedule_open=ExpressionWrapper(~Exists(windows) | Exists(open_now), output_field=BooleanField())
        )


class AllowEntry(models.Model):
    """Lets a person through a door or door group, within a validity period and weekly schedule."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="allow_entries")
    door = models.ForeignKey(
        Door, on_delete=models.CASCADE, null=True, blank=True, related_name="allow_entries"
    )
    door_group = models.ForeignKey(
        DoorGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="allow_entries"
    )
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Empty: no end.")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AllowEntryQuerySet.as_manager()

    class Meta:
        ordering = ["person", "-valid_from"]
        verbose_name_plural = "allow entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(door__isnull=False, door_group__isnull=True)
                | Q(door__isnull=True, door_group__isnull=False),
                name="allowentry_door_xor_door_group",
                violation_error_message="An allow entry names either a door or a door group, not both.",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="allowentry_valid_until_after_valid_from",
                violation_error_message="valid_until must come after valid_from.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} may pass {self.door or self.door_group}"


class ScheduleWindow(models.Model):
    """One weekly window of an allow entry, in local time: e.g. Monday 07:00 to 19:00."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    allow_entry = models.ForeignKey(AllowEntry, on_delete=models.CASCADE, related_name="schedule")
    weekday = models.PositiveSmallIntegerField(choices=Weekday)
    starts_at = models.TimeField()
    ends_at = models.TimeField(
        help_text="Exclusive. A night shift is two windows, one each side of midnight."
    )

    class Meta:
        ordering = ["allow_entry", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="schedulewindow_weekday_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="schedulewindow_ends_after_start",
                violation_error_message="A schedule window must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class BlockEntryQuerySet(models.QuerySet):
    def in_force(self, at: datetime) -> "BlockEntryQuerySet":
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at), added_at__lte=at)


class BlockEntry(models.Model):
    """Keeps a person out of every door and raises an alert; a block always beats an allow."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="block_entries")
    reason = models.TextField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")

    objects = BlockEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-added_at"]
        verbose_name_plural = "block entries"
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="blockentry_has_reason",
                violation_error_message="A block needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("added_at")),
                name="blockentry_expires_after_added",
                violation_error_message="expires_at must come after added_at.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} blocked: {self.reason}"


class MissingEntryQuerySet(models.QuerySet):
    def open_at(self, at: datetime) -> "MissingEntryQuerySet":
        return self.filter(Q(closed_at__isnull=True) | Q(closed_at__gt=at), reported_at__lte=at)


class MissingEntry(models.Model):
    """A missing-person case: sighting the person raises an alert for the recipients."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="missing_entries")
    case_number = models.CharField(max_length=64)
    reporting_contact = models.TextField(help_text="Who reported the person missing, and how to reach them.")
    alert_recipients = models.JSONField(default=list, blank=True, help_text="E-mail addresses to alert.")
    reported_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Set when the case is closed.")

    objects = MissingEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at"]
        verbose_name_plural = "missing entries"
        constraints = [
            models.UniqueConstraint(
                fields=["person", "case_number"], name="missingentry_unique_case_per_person"
            ),
            models.CheckConstraint(
                condition=~Q(case_number=""),
                name="missingentry_has_case_number",
                violation_error_message="A missing entry needs a case number.",
            ),
            models.CheckConstraint(
                condition=~Q(reporting_contact=""),
                name="missingentry_has_reporting_contact",
                violation_error_message="A missing entry needs a reporting contact.",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("reported_at")),
                name="missingentry_closed_after_reported",
                violation_error_message="closed_at cannot come before reported_at.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} missing (case {self.case_number})"

    def clean(self) -> None:
        recipients = self.alert_recipients
        if not isinstance(recipients, list) or not all(_is_email(address) for address in recipients):
            raise ValidationError({"alert_recipients": "Give a list of e-mail addresses."})


def _is_email(address: object) -> bool:
    try:
        validate_email(address)
    except (ValidationError, TypeError):
        return False
    return isinstance(address, str)
