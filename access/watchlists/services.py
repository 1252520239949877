from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from access.alerts.models import Alert
from access.doors.models import Door
from access.events.models import Event
from access.people.models import Person

from .models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow


@dataclass(frozen=True)
class Verdict:
    decision: Event.Decision
    reason: str
    alert_kind: Alert.Kind | None = None


def access_verdict(person: Person, door: Door, at: datetime | None = None) -> Verdict:
    """Whether `person` may pass `door` at `at` (default now), and why.

    In order: a block in force (alert), an open missing case (alert), then `allow_verdict`. So a block always
    beats an allow.
    """
    at = at or timezone.now()
    return sighting_alert(person, at) or allow_verdict(person, door, at)


def sighting_alert(person: Person, at: datetime) -> Verdict | None:
    """The alert that seeing `person` at `at` raises anywhere: a block in force, else an open missing case."""
    block = person.block_entries.in_force(at).first()
    if block is not None:
        return Verdict(Event.Decision.ALERT, f"Blocklisted: {block.reason}", Alert.Kind.BLOCKLIST)
    case = person.missing_entries.open_at(at).first()
    if case is not None:
        return Verdict(
            Event.Decision.ALERT, f"Reported missing (case {case.case_number})", Alert.Kind.MISSING
        )
    return None


def allow_verdict(person: Person, door: Door, at: datetime) -> Verdict:
    """What the allow list alone says: suspension denies, then an allow entry in force for this door, directly
    or through a group, whose weekly schedule includes the moment grants."""
    if person.status == Person.Status.SUSPENDED:
        return Verdict(Event.Decision.DENY, "Person is suspended")
    entries = AllowEntry.objects.filter(person=person).in_force(at).for_door(door)
    schedules_open = list(entries.with_schedule_open(at).values_list("schedule_open", flat=True))
    if not schedules_open:
        return Verdict(Event.Decision.DENY, f"No allow entry in force for {door}")
    if any(schedules_open):
        return Verdict(Event.Decision.GRANT, f"Allowed at {door}")
    return Verdict(Event.Decision.DENY, f"Outside the allowed hours for {door}")


def with_list_status(people: QuerySet[Person], at: datetime) -> QuerySet[Person]:
    """`people` annotated with `allowed`, `blocked` and `missing`: whether an entry of each list is in force
    (a missing case open) for them at `at`."""
    return people.annotate(
        allowed=Exists(AllowEntry.objects.in_force(at).filter(person=OuterRef("pk"))),
        blocked=Exists(BlockEntry.objects.in_force(at).filter(person=OuterRef("pk"))),
        missing=Exists(MissingEntry.objects.open_at(at).filter(person=OuterRef("pk"))),
    )


def replace_schedule(entry: AllowEntry, windows: list[dict]) -> None:
    """Make `windows` (weekday, starts_at, ends_at) the entry's whole weekly schedule."""
    for window in entry.schedule.all():
        window.delete()
    for window in windows:
        ScheduleWindow.objects.create(allow_entry=entry, **window)


def close_case(case: MissingEntry, at: datetime | None = None) -> None:
    """The person was found: sighting them no longer raises an alert. The case stays on file."""
    case.closed_at = at or timezone.now()
    case.save(update_fields=["closed_at"])
