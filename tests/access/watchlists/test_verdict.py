"""access_verdict: a block always beats an allow; validity, schedule, suspension and missing cases count."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from access.doors.models import Door
from access.people.models import Person
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow
from access.watchlists.services import access_verdict, with_list_status

# A Wednesday, 10:00 local time.
WEDNESDAY_10 = timezone.make_aware(datetime(2025, 6, 11, 10, 0))


@pytest.fixture
def other_door(db) -> Door:
    return Door.objects.create(name="Server room", controller_kind="http", http_url="http://10.0.0.9/open")


def _allow(person, **fields) -> AllowEntry:
    fields.setdefault("valid_from", WEDNESDAY_10 - timedelta(days=30))
    return AllowEntry.objects.create(person=person, **fields)


def test_no_allow_entry_denies(person, door):
    verdict = access_verdict(person, door, WEDNESDAY_10)

    assert (verdict.decision, verdict.alert_kind) == ("deny", None)
    assert "No allow entry" in verdict.reason


def test_allow_entry_for_the_door_grants(person, door, other_door):
    _allow(person, door=door)

    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"
    assert access_verdict(person, other_door, WEDNESDAY_10).decision == "deny"


def test_allow_through_a_door_group(person, door, door_group, other_door):
    _allow(person, door_group=door_group)

    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"
    assert access_verdict(person, other_door, WEDNESDAY_10).decision == "deny"


def test_a_block_always_beats_an_allow(person, door, door_group):
    _allow(person, door=door)
    _allow(person, door_group=door_group)
    BlockEntry.objects.create(
        person=person, reason="Threatened staff", added_at=WEDNESDAY_10 - timedelta(days=1)
    )

    verdict = access_verdict(person, door, WEDNESDAY_10)

    assert (verdict.decision, verdict.alert_kind) == ("alert", "blocklist")
    assert "Threatened staff" in verdict.reason


def test_an_expired_block_no_longer_counts(person, door):
    _allow(person, door=door)
    BlockEntry.objects.create(
        person=person,
        reason="Temporary ban",
        added_at=WEDNESDAY_10 - timedelta(days=10),
        expires_at=WEDNESDAY_10 - timedelta(days=1),
    )

    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"
    assert access_verdict(person, door, WEDNESDAY_10 - timedelta(days=2)).decision == "alert"


def test_an_open_missing_case_alerts_until_closed(person, door):
    _allow(person, door=door)
    case = MissingEntry.objects.create(
        person=person,
        case_number="MP-2025-042",
        reporting_contact="Sister, +44 20 7946 0000",
        reported_at=WEDNESDAY_10 - timedelta(days=3),
    )

    verdict = access_verdict(person, door, WEDNESDAY_10)
    assert (verdict.decision, verdict.alert_kind) == ("alert", "missing")
    assert "MP-2025-042" in verdict.reason

    case.closed_at = WEDNESDAY_10 - timedelta(hours=1)
    case.save()
    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"


def test_suspended_people_are_denied(person, door):
    _allow(person, door=door)
    person.status = Person.Status.SUSPENDED
    person.save()

    verdict = access_verdict(person, door, WEDNESDAY_10)
    assert (verdict.decision, verdict.reason) == ("deny", "Person is suspended")


def test_validity_period_is_half_open(person, door):
    _allow(person, door=door, valid_from=WEDNESDAY_10, valid_until=WEDNESDAY_10 + timedelta(days=7))

    assert access_verdict(person, door, WEDNESDAY_10 - timedelta(seconds=1)).decision == "deny"
    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"
    assert access_verdict(person, door, WEDNESDAY_10 + timedelta(days=7)).decision == "deny"


def test_weekly_schedule(person, door):
    entry = _allow(person, door=door)
    ScheduleWindow.objects.create(
        allow_entry=entry, weekday=2, starts_at=time(7), ends_at=time(19)
    )  # Wednesday

    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"
    evening = access_verdict(person, door, WEDNESDAY_10.replace(hour=19))
    assert (evening.decision, evening.reason) == ("deny", "Outside the allowed hours for Main entrance")
    assert access_verdict(person, door, WEDNESDAY_10 + timedelta(days=1)).decision == "deny"  # Thursday


def test_schedule_is_read_in_local_time(settings, person, door):
    settings.TIME_ZONE = "Europe/Berlin"
    entry = _allow(person, door=door)
    ScheduleWindow.objects.create(allow_entry=entry, weekday=2, starts_at=time(9), ends_at=time(10))
    nine_thirty_berlin = timezone.make_aware(datetime(2025, 6, 11, 9, 30))

    assert access_verdict(person, door, nine_thirty_berlin).decision == "grant"
    assert access_verdict(person, door, nine_thirty_berlin.replace(tzinfo=UTC)).decision == "deny"


def test_any_matching_entry_grants(person, door, door_group):
    expired = _allow(person, door=door, valid_until=WEDNESDAY_10 - timedelta(days=1))
    ScheduleWindow.objects.create(allow_entry=expired, weekday=2, starts_at=time(0), ends_at=time(23))
    _allow(person, door_group=door_group)

    assert access_verdict(person, door, WEDNESDAY_10).decision == "grant"


@pytest.mark.parametrize(
    "fields",
    [
        {},  # neither door nor group
        {"door": True, "door_group": True},  # both
        {"door": True, "valid_until": WEDNESDAY_10 - timedelta(days=60)},  # ends before it starts
    ],
    ids=["no-door", "door-and-group", "until-before-from"],
)
def test_allow_entry_constraints(person, door, door_group, fields):
    fields = {**fields}
    if fields.pop("door", False):
        fields["door"] = door
    if fields.pop("door_group", False):
        fields["door_group"] = door_group

    with pytest.raises(IntegrityError), transaction.atomic():
        _allow(person, **fields)


def test_schedule_window_must_end_after_it_starts(person, door):
    entry = _allow(person, door=door)

    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleWindow.objects.create(allow_entry=entry, weekday=1, starts_at=time(18), ends_at=time(8))
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleWindow.objects.create(allow_entry=entry, weekday=7, starts_at=time(8), ends_at=time(18))


def test_a_block_needs_a_reason(person):
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockEntry.objects.create(person=person, reason="")


def test_list_status_says_which_lists_hold_each_person_at_a_time(person, door):
    bystander = Person.objects.create(name="Nobody Listed", external_id="E-404")
    _allow(person, door=door, valid_until=WEDNESDAY_10 + timedelta(days=1))
    BlockEntry.objects.create(
        person=person, reason="Tailgating", added_at=WEDNESDAY_10 - timedelta(days=1),
        expires_at=WEDNESDAY_10 + timedelta(hours=1),
    )  # fmt: skip
    MissingEntry.objects.create(
        person=person, case_number="MP-2025-043", reporting_contact="Brother",
        reported_at=WEDNESDAY_10 + timedelta(hours=2),
    )  # fmt: skip

    def status(at):
        people = with_list_status(Person.objects.filter(pk__in=[person.pk, bystander.pk]), at)
        return {p.pk: (p.allowed, p.blocked, p.missing) for p in people}

    assert status(WEDNESDAY_10) == {person.pk: (True, True, False), bystander.pk: (False, False, False)}
    assert status(WEDNESDAY_10 + timedelta(hours=3))[person.pk] == (True, False, True)
    assert status(WEDNESDAY_10 + timedelta(days=2))[person.pk] == (False, False, True)
