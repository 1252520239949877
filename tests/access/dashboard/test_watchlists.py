"""The watchlist pages without a browser: who may read and change the lists, what a form stores, and bad input
that is refused with a message while nothing stored is lost."""

from datetime import time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from access.audit.models import AuditLog
from access.people.models import Person
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow
from tests.access.conftest import make_user

pytestmark = pytest.mark.django_db

LISTS = ["dashboard:allow-list", "dashboard:block-list", "dashboard:missing-list"]


@pytest.fixture
def operator_client(client):
    client.force_login(make_user("operator"))
    return client


@pytest.fixture
def block(person) -> BlockEntry:
    return BlockEntry.objects.create(person=person, reason="Trespass on 3 May")


@pytest.fixture
def case(person) -> MissingEntry:
    return MissingEntry.objects.create(
        person=person, case_number="MP-2041", reporting_contact="Sister, +44 20 7946 0000",
        alert_recipients=["duty@example.org"],
    )


@pytest.mark.parametrize("role", ["viewer", "device"])
def test_accounts_without_list_rights_are_refused(client, role, block, case):
    client.force_login(make_user(role))
    for name in LISTS:
        assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse("dashboard:block-remove", args=[block.pk])).status_code == 403
    assert client.post(reverse("dashboard:missing-close", args=[case.pk])).status_code == 403
    assert BlockEntry.objects.filter(pk=block.pk).exists()
    assert MissingEntry.objects.get(pk=case.pk).closed_at is None


def test_anonymous_people_are_sent_to_sign_in(client):
    for name in LISTS:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("dashboard:login"))


def test_the_lists_show_their_members_and_whether_they_act_now(operator_client, person, door, block, case):
    ended = AllowEntry.objects.create(
        person=person, door=door, valid_from=timezone.now() - timedelta(days=10),
        valid_until=timezone.now() - timedelta(days=1),
    )

    allow = operator_client.get(reverse("dashboard:allow-list")).content.decode()
    blocked = operator_client.get(reverse("dashboard:block-list")).content.decode()
    missing = operator_client.get(reverse("dashboard:missing-list")).content.decode()

    assert f'data-entry-id="{ended.pk}"' in allow and "Not in force" in allow
    assert "Trespass on 3 May" in blocked and "In force" in blocked
    assert "MP-2041" in missing and "duty@example.org" in missing and "+44 20 7946 0000" in missing
    assert 'class="close-case"' in missing


def test_an_allow_entry_is_added_with_its_weekly_hours(operator_client, person, door):
    response = operator_client.post(reverse("dashboard:allow-list"), {
        "person": person.pk, "door": door.pk, "valid_from": "2026-01-05T08:00", "note": "Cleaner",
        "weekdays": ["0", "2", "4"], "starts_at": "07:00", "ends_at": "19:30",
    })

    assert response.status_code == 302
    entry = AllowEntry.objects.get()
    assert (entry.person, entry.door, entry.door_group, entry.note) == (person, door, None, "Cleaner")
    windows = list(entry.schedule.values_list("weekday", "starts_at", "ends_at"))
    assert windows == [(day, time(7, 0), time(19, 30)) for day in (0, 2, 4)]
    followed = operator_client.get(response["Location"]).content.decode()
    assert "Added: Abdullah Gul (E-1001) may pass Main entrance." in followed
    assert "Monday 07:00-19:30" in followed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"door_group": "GROUP"}, "names either a door or a door group, not both"),
        ({"valid_until": "2026-01-01T08:00"}, "valid_until must come after valid_from"),
        ({"weekdays": ["1"]}, "Give the hours (from and until) for the days ticked."),
        ({"starts_at": "07:00", "ends_at": "09:00"}, "Tick the days the hours apply to"),
        ({"weekdays": ["1"], "starts_at": "19:00", "ends_at": "07:00"}, "must end after they start"),
        ({"door": "999999"}, "Select a valid choice"),
        ({"valid_from": "next Tuesday"}, "Enter a valid date/time."),
    ],
)
def test_a_bad_allow_entry_is_refused_and_nothing_changes(operator_client, person, door, door_group, change,
                                                          message):
    kept = AllowEntry.objects.create(person=person, door=door)
    form = {"person": person.pk, "door": door.pk, "valid_from": "2026-01-05T08:00"}
    form |= {key: door_group.pk if value == "GROUP" else value for key, value in change.items()}

    response = operator_client.post(reverse("dashboard:allow-list"), form)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was added" in page
    assert message in page.replace("&#x27;", "'")
    assert list(AllowEntry.objects.all()) == [kept]
    assert not ScheduleWindow.objects.exists()


def test_a_block_names_who_added_it(client, person):
    operator = make_user("operator")
    client.force_login(operator)
    form = {"person": person.pk, "reason": "Threatened staff"}

    response = client.post(reverse("dashboard:block-list"), form)

    assert response.status_code == 302
    block = BlockEntry.objects.get()
    assert (block.person, block.reason, block.added_by, block.expires_at) == (
        person, "Threatened staff", operator, None
    )


def test_a_block_without_a_reason_is_refused(operator_client, person):
    response = operator_client.post(reverse("dashboard:block-list"), {"person": person.pk, "reason": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not BlockEntry.objects.exists()


def test_a_missing_person_case_keeps_its_details(operator_client, person):
    response = operator_client.post(reverse("dashboard:missing-list"), {
        "person": person.pk, "case_number": "MP-7", "reporting_contact": "Father, 555-0101",
        "alert_recipients": "duty@example.org, night@example.org", "reported_at": "2026-11-29T22:15",
    })

    assert response.status_code == 302
    case = MissingEntry.objects.get()
    assert (case.case_number, case.reporting_contact) == ("MP-7", "Father, 555-0101")
    assert case.alert_recipients == ["duty@example.org", "night@example.org"]
    assert timezone.localtime(case.reported_at).strftime("%Y-%m-%d %H:%M") == "2026-11-29 22:15"
    assert case.closed_at is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alert_recipients": "duty@example.org, nobody"}, "nobody is not an e-mail address."),
        ({"case_number": "MP-2041"}, "already exists"),
        ({"reporting_contact": ""}, "This field is required."),
    ],
)
def test_a_bad_missing_person_case_is_refused(operator_client, person, case, change, message):
    form = {"person": person.pk, "case_number": "MP-9", "reporting_contact": "Mother", **change}

    response = operator_client.post(reverse("dashboard:missing-list"), form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(MissingEntry.objects.all()) == [case]


def test_a_case_is_closed_and_stays_on_file(operator_client, case):
    response = operator_client.post(reverse("dashboard:missing-close", args=[case.pk]))

    assert response.status_code == 302
    closed = MissingEntry.objects.get(pk=case.pk)
    assert closed.closed_at is not None
    assert not MissingEntry.objects.open_at(timezone.now()).exists()


def test_members_are_removed_and_unknown_ones_are_404(operator_client, block, case):
    assert operator_client.post(reverse("dashboard:block-remove", args=[block.pk])).status_code == 302
    assert operator_client.post(reverse("dashboard:missing-remove", args=[case.pk])).status_code == 302
    assert not BlockEntry.objects.exists() and not MissingEntry.objects.exists()

    assert operator_client.post(reverse("dashboard:block-remove", args=[block.pk])).status_code == 404
    assert operator_client.post(reverse("dashboard:allow-remove", args=[999999])).status_code == 404


def test_removing_is_a_post(operator_client, block):
    assert operator_client.get(reverse("dashboard:block-remove", args=[block.pk])).status_code == 405
    assert BlockEntry.objects.filter(pk=block.pk).exists()


def test_changes_need_the_csrf_token(person, door, block):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))
    entry = AllowEntry.objects.create(person=person, door=door, note="Day shift")

    assert client.post(reverse("dashboard:block-remove", args=[block.pk])).status_code == 403
    form = {"person": person.pk, "reason": "Shouted"}
    assert client.post(reverse("dashboard:block-list"), form).status_code == 403
    assert list(BlockEntry.objects.all()) == [block]
    edit = {"door": door.pk, "valid_from": "2026-01-05T08:00", "note": "Night shift"}
    assert client.post(reverse("dashboard:allow-edit", args=[entry.pk]), edit).status_code == 403
    assert AllowEntry.objects.get().note == "Day shift"


def test_list_changes_are_audited_with_who_made_them(client, person, block):
    operator = make_user("operator")
    client.force_login(operator)

    client.post(reverse("dashboard:block-remove", args=[block.pk]), REMOTE_ADDR="198.51.100.4")

    entry = AuditLog.objects.get(action=AuditLog.Action.DELETE, content_type__model="blockentry")
    assert (entry.actor, entry.source, entry.object_id) == (operator, AuditLog.Source.ADMIN, str(block.pk))
    assert entry.client_address == "198.51.100.4"
    assert entry.changes["reason"] == {"before": "Trespass on 3 May", "after": None}


@pytest.fixture
def weekday_entry(person, door) -> AllowEntry:
    entry = AllowEntry.objects.create(person=person, door=door, valid_from=timezone.now() - timedelta(days=1))
    for weekday in (0, 2):
        ScheduleWindow.objects.create(allow_entry=entry, weekday=weekday, starts_at=time(7), ends_at=time(19))
    return entry


def schedule_of(entry: AllowEntry) -> list[tuple[int, time, time]]:
    return list(entry.schedule.values_list("weekday", "starts_at", "ends_at"))


def edit_form(entry: AllowEntry, **changes) -> dict:
    form = {"door": entry.door_id, "valid_from": f"{timezone.localtime(entry.valid_from):%Y-%m-%dT%H:%M}",
            "weekdays": ["0", "2"], "starts_at": "07:00", "ends_at": "19:00", "note": entry.note}
    return {key: value for key, value in (form | changes).items() if value is not None}


def test_an_allow_entry_opens_for_editing_as_it_stands(operator_client, weekday_entry):
    page = operator_client.get(reverse("dashboard:allow-edit", args=[weekday_entry.pk])).content.decode()

    checked = [line for line in page.splitlines() if 'name="weekdays"' in line and "checked" in line]
    assert [f'value="{day}"' in line for day, line in zip((0, 2), checked, strict=True)] == [True, True]
    assert 'name="starts_at" value="07:00"' in page and 'name="ends_at" value="19:00"' in page
    assert 'name="person"' in page and "disabled" in page[page.index('name="person"') - 200:]
    assert "kept-schedule" not in page


def test_an_allow_entry_is_edited_and_its_hours_replaced(operator_client, person, door, door_group,
                                                        weekday_entry):
    form = edit_form(weekday_entry, door="", door_group=door_group.pk, valid_until="2031-06-30T18:00",
                     weekdays=["5"], starts_at="09:00", ends_at="13:00", note="Weekend cover",
                     person=Person.objects.create(name="Someone else", external_id="E-9").pk)

    response = operator_client.post(reverse("dashboard:allow-edit", args=[weekday_entry.pk]), form)

    assert response.status_code == 302 and response["Location"] == reverse("dashboard:allow-list")
    entry = AllowEntry.objects.get()
    assert (entry.person, entry.door, entry.door_group) == (person, None, door_group), "the person stays"
    assert entry.note == "Weekend cover"
    assert timezone.localtime(entry.valid_until).strftime("%Y-%m-%d %H:%M") == "2031-06-30 18:00"
    assert schedule_of(entry) == [(5, time(9), time(13))]
    listed = operator_client.get(response["Location"]).content.decode()
    assert "Saved: Abdullah Gul (E-1001) may pass Ground floor." in listed
    audited = AuditLog.objects.filter(action=AuditLog.Action.UPDATE, content_type__model="allowentry").get()
    assert audited.changes["door_group"]["after"] is not None


def test_an_edit_goes_back_where_it_was_opened_from_on_this_site_only(operator_client, person, weekday_entry):
    edit = reverse("dashboard:allow-edit", args=[weekday_entry.pk])
    person_page = reverse("dashboard:person", args=[person.pk]) + "#lists"

    back_to_person = operator_client.post(edit, {**edit_form(weekday_entry), "next": person_page})
    elsewhere = operator_client.post(edit, {**edit_form(weekday_entry), "next": "https://evil.example/"})

    assert back_to_person["Location"] == person_page
    assert elsewhere["Location"] == reverse("dashboard:allow-list")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"valid_until": "2000-01-01T00:00"}, "valid_until must come after valid_from."),
        ({"starts_at": "19:00", "ends_at": "07:00"}, "must end after they start"),
        ({"weekdays": None}, "Tick the days the hours apply to"),
        ({"door": ""}, "names either a door or a door group"),
    ],
)
def test_a_bad_edit_is_refused_and_nothing_changes(operator_client, weekday_entry, change, message):
    before = AllowEntry.objects.values().get()

    response = operator_client.post(
        reverse("dashboard:allow-edit", args=[weekday_entry.pk]), edit_form(weekday_entry, **change)
    )

    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert AllowEntry.objects.values().get() == before
    assert schedule_of(weekday_entry) == [(0, time(7), time(19)), (2, time(7), time(19))]


def test_hours_that_differ_by_day_are_kept_unless_replaced(operator_client, weekday_entry):
    ScheduleWindow.objects.create(allow_entry=weekday_entry, weekday=4, starts_at=time(8), ends_at=time(12))
    mixed = schedule_of(weekday_entry)
    edit = reverse("dashboard:allow-edit", args=[weekday_entry.pk])

    page = operator_client.get(edit).content.decode()
    kept = operator_client.post(edit, edit_form(weekday_entry, weekdays=None, starts_at="", ends_at="",
                                                note="Shifts"))
    kept_schedule = schedule_of(weekday_entry)
    replaced = operator_client.post(edit, edit_form(weekday_entry, weekdays=["1"]))

    assert 'id="kept-schedule"' in page and "Friday 08:00-12:00" in page
    assert 'name="starts_at" type="time"' in page or 'type="time" name="starts_at"' in page
    assert kept.status_code == replaced.status_code == 302
    assert kept_schedule == mixed
    assert schedule_of(weekday_entry) == [(1, time(7), time(19))]


@pytest.mark.parametrize("role", ["viewer", "device"])
def test_editing_an_allow_entry_needs_the_change_right(client, role, weekday_entry):
    client.force_login(make_user(role))
    edit = reverse("dashboard:allow-edit", args=[weekday_entry.pk])

    assert client.get(edit).status_code == 403
    assert client.post(edit, edit_form(weekday_entry, note="Sneaky")).status_code == 403
    assert AllowEntry.objects.get().note == ""


def test_an_unknown_allow_entry_is_404(operator_client):
    assert operator_client.get(reverse("dashboard:allow-edit", args=[999999])).status_code == 404
