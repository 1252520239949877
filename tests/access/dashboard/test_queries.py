"""The list pages read a fixed number of queries however many rows they show: each page is counted with one
row of everything it lists, then with four, and must not ask the database more often (no query per row)."""

from collections.abc import Callable
from datetime import time
from itertools import count

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access.alerts.models import Alert
from access.alerts.services import raise_alert
from access.cameras.models import Camera
from access.doors.models import Door, DoorGroup
from access.doors.services import command_door
from access.events.services import record_event
from access.people.models import Consent, Person
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow
from tests.access.conftest import make_user

pytestmark = pytest.mark.django_db

_serial = count()
MORE = 3  # rows added between the two counts


def new_person() -> Person:
    number = next(_serial)
    person = Person.objects.create(name=f"Person {number}", external_id=f"Q-{number}")
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    return person


def new_door() -> Door:
    number = next(_serial)
    door = Door.objects.create(name=f"Door {number}", controller_kind="mqtt", mqtt_topic=f"doors/{number}")
    Camera.objects.create(name=f"Cam {number}", source_url=f"rtsp://10.0.2.{number % 250}/s", door=door)
    return door


def allow(person: Person, door: Door | None = None, group: DoorGroup | None = None) -> AllowEntry:
    entry = AllowEntry.objects.create(person=person, door=door, door_group=group)
    ScheduleWindow.objects.create(allow_entry=entry, weekday=0, starts_at=time(7), ends_at=time(19))
    return entry


def on_every_list(person: Person, user: AbstractBaseUser) -> None:
    allow(person, new_door())
    BlockEntry.objects.create(person=person, reason="Trespass", added_by=user)
    MissingEntry.objects.create(person=person, case_number=f"MP-{next(_serial)}", reporting_contact="Family")


def a_decision_and_an_alert(user: AbstractBaseUser) -> None:
    person, door = new_person(), new_door()
    event, _ = record_event(f"q-{next(_serial)}", camera=door.cameras.get(), door=door, person=person,
                            decision="alert", distance=0.3, reason="Blocklisted")
    raise_alert(Alert.Kind.BLOCKLIST, event=event)


def a_door_with_a_command(user: AbstractBaseUser) -> None:
    command_door(new_door(), "open", reason="Delivery", user=user)


def an_audited_change(client: Client) -> None:
    number = next(_serial)
    form = {"name": f"Audited {number}", "external_id": f"A-{number}", "status": "active"}
    assert client.post(reverse("dashboard:person-add"), form).status_code == 302


def queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [query["sql"] for query in captured.captured_queries]


def assert_fixed_queries(client: Client, url: str, add_rows: Callable[[], None], row_marker: str) -> None:
    """`row_marker` is in the page once per row shown, so the test knows the rows it added are there."""
    add_rows()
    with_one = queries(client, url)
    shown = client.get(url).content.decode().count(row_marker)
    for _ in range(MORE):
        add_rows()
    with_more = queries(client, url)
    assert client.get(url).content.decode().count(row_marker) > shown, f"no more rows with {row_marker}"
    assert len(with_more) == len(with_one), "\n".join(with_more)


@pytest.fixture
def admin(client) -> tuple[Client, AbstractBaseUser]:
    user = make_user("admin")
    client.force_login(user)
    return client, user


def test_the_live_feed(admin):
    client, user = admin
    assert_fixed_queries(client, reverse("dashboard:feed"), lambda: a_decision_and_an_alert(user),
                         "data-event-id=")


def test_the_people_list(admin):
    client, user = admin
    assert_fixed_queries(client, reverse("dashboard:people"), lambda: on_every_list(new_person(), user),
                         "data-person-id=")


def test_a_person_page(admin):
    client, user = admin
    person = new_person()
    group = DoorGroup.objects.create(name="Floor")

    def more_entries() -> None:
        on_every_list(person, user)
        allow(person, group=group)

    page = reverse("dashboard:person", args=[person.pk])
    assert_fixed_queries(client, page, more_entries, "data-entry-id=")


@pytest.mark.parametrize("page", ["dashboard:allow-list", "dashboard:block-list", "dashboard:missing-list"])
def test_the_watchlists(admin, page):
    client, user = admin
    assert_fixed_queries(client, reverse(page), lambda: on_every_list(new_person(), user), "data-entry-id=")


def test_the_doors(admin):
    client, user = admin
    assert_fixed_queries(client, reverse("dashboard:doors"), lambda: a_door_with_a_command(user),
                         "data-command-id=")


def test_the_audit_log(admin):
    client, _ = admin
    assert_fixed_queries(client, reverse("dashboard:audit"), lambda: an_audited_change(client),
                         "data-entry-id=")


def test_the_charts(admin):
    client, user = admin
    assert_fixed_queries(client, reverse("dashboard:charts"), lambda: a_decision_and_an_alert(user),
                         "<tr data-door=")
