"""The audit log page: admins only, filtered by the API's own filter set, paginated; a bad filter is a 400."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from access.audit.models import AuditLog
from access.audit.services import record
from access.dashboard.views.audit import PAGE_SIZE
from access.watchlists.models import BlockEntry
from tests.access.conftest import make_user

pytestmark = pytest.mark.django_db

MORNING = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def logged(action: str, instance, actor, at: datetime) -> AuditLog:
    changes = {"name": {"before": None, "after": str(instance)}}
    entry = record(action=action, instance=instance, changes=changes, source=AuditLog.Source.API, actor=actor,
                   client_address="192.0.2.1")
    AuditLog.objects.filter(pk=entry.pk).update(occurred_at=at)
    return entry


@pytest.fixture
def admin(client):
    user = make_user("admin")
    client.force_login(user)
    return user


@pytest.fixture
def trail(admin, person) -> dict[str, AuditLog]:
    operator = make_user("operator")
    block = BlockEntry.objects.create(person=person, reason="Trespass")
    return {
        "person created": logged("create", person, admin, MORNING),
        "block created": logged("create", block, operator, MORNING + timedelta(hours=2)),
        "person changed": logged("update", person, operator, MORNING + timedelta(hours=4)),
        "block deleted": logged("delete", block, admin, MORNING + timedelta(days=1)),
    }


def shown(response) -> list[int]:
    return [entry.pk for entry in response.context["entries"]]


@pytest.mark.parametrize("role", ["viewer", "operator", "device"])
def test_only_admins_read_the_audit_log(client, role):
    client.force_login(make_user(role))
    assert client.get(reverse("dashboard:audit")).status_code == 403


def test_everything_newest_first_without_a_filter(client, trail):
    response = client.get(reverse("dashboard:audit"))

    assert response.status_code == 200
    order = ["block deleted", "person changed", "block created", "person created"]
    assert shown(response) == [trail[name].pk for name in order]
    page = response.content.decode()
    assert "operator-user" in page and "Trespass" in page and "192.0.2.1" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "delete"}, ["block deleted"]),
        ({"object_type": "watchlists.blockentry"}, ["block deleted", "block created"]),
        ({"occurred_after": "2026-11-29T10:00", "occurred_before": "2026-11-29T14:00"},
         ["person changed", "block created"]),
        ({"action": "create", "object_type": "people.person"}, ["person created"]),
    ],
)
def test_the_filters_narrow_the_log(client, trail, query, expected):
    response = client.get(reverse("dashboard:audit"), query)

    assert response.status_code == 200
    assert shown(response) == [trail[name].pk for name in expected]


def test_the_actor_filter(client, trail, admin):
    response = client.get(reverse("dashboard:audit"), {"actor": admin.pk})

    assert shown(response) == [trail["block deleted"].pk, trail["person created"].pk]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"actor": "999999"}, "Select a valid choice"),
        ({"occurred_after": "yesterday"}, "Enter a valid date/time."),
        ({"action": "erase"}, "Select a valid choice"),
    ],
)
def test_a_bad_filter_is_400_and_shows_nothing(client, trail, query, message):
    response = client.get(reverse("dashboard:audit"), query)

    assert response.status_code == 400
    page = response.content.decode()
    assert "The filter was not applied" in page and message in page
    assert shown(response) == []
    assert AuditLog.objects.count() == 4


def test_the_log_is_paginated_and_the_pages_keep_the_filter(client, admin, person):
    for minute in range(PAGE_SIZE + 7):
        logged("update", person, admin, MORNING + timedelta(minutes=minute))
    logged("delete", person, admin, MORNING)

    first = client.get(reverse("dashboard:audit"), {"action": "update"})
    second = client.get(reverse("dashboard:audit"), {"action": "update", "page": 2})

    assert len(shown(first)) == PAGE_SIZE and len(shown(second)) == 7
    assert 'href="?action=update&amp;page=2"' in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()
    assert client.get(reverse("dashboard:audit"), {"page": 9}).status_code == 404
