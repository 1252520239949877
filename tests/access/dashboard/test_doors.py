"""The doors page without a browser: what it says of each controller, and the manual open: the right, the
confirmation, the CSRF token, bad input, and a real HTTP relay that answers or does not."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from access.audit.models import AuditLog
from access.doors import services
from access.doors.models import Door, DoorCommand, DoorStatus
from tests.access.conftest import make_user
from tests.access.doors.conftest import http_door, relay  # noqa: F401  (a real relay on a local HTTP server)

pytestmark = pytest.mark.django_db


def door_card(page: str, door: Door) -> str:
    start = page.index(f'data-door-id="{door.pk}"')
    return page[start:page.index("</section>", start)]


@pytest.fixture
def operator(client):
    user = make_user("operator")
    client.force_login(user)
    return user


def test_each_door_says_whether_its_controller_is_heard_from(client, operator, door):
    now = timezone.now()
    quiet = Door.objects.create(name="Loading bay", controller_kind="mqtt", mqtt_topic="doors/bay",
                                fail_mode=Door.FailMode.SAFE)
    unwatched = Door.objects.create(name="Archive", controller_kind="mqtt", mqtt_topic="doors/archive",
                                    heartbeat_timeout_seconds=None)
    services.record_heartbeat(door.pk, state="locked", at=now - timedelta(seconds=3))
    services.record_heartbeat(quiet.pk, at=now - timedelta(minutes=5))
    DoorStatus.objects.filter(door=quiet).update(fail_mode_since=now - timedelta(minutes=4))

    response = client.get(reverse("dashboard:doors"))

    assert response["Refresh"] == "15", "the page follows the heartbeats"
    page = response.content.decode()
    main, bay, archive = (door_card(page, each) for each in (door, quiet, unwatched))
    assert 'connection">Online' in main and "Locked" in main and "Fail-secure" in main
    assert 'connection">Offline' in bay and "Fail-safe" in bay and "Applied since" in bay
    assert 'connection">Not watched' in archive and "Never" in archive
    assert page.count('class="button primary open-door"') == 3


@pytest.mark.parametrize("role", ["viewer", "device"])
def test_accounts_without_door_rights_cannot_see_or_open_doors(client, role, door):
    client.force_login(make_user(role))

    assert client.get(reverse("dashboard:doors")).status_code == 403
    assert client.get(reverse("dashboard:door-open", args=[door.pk])).status_code == 403
    open_url = reverse("dashboard:door-open", args=[door.pk])
    assert client.post(open_url, {"reason": "Let me in"}).status_code == 403
    assert not DoorCommand.objects.exists()


def test_the_open_asks_for_a_reason_and_a_confirmation(client, operator, door):
    page = client.get(reverse("dashboard:door-open", args=[door.pk])).content.decode()

    assert "Open Main entrance?" in page
    assert 'name="reason"' in page and "Open now" in page
    assert not DoorCommand.objects.exists(), "asking must not open the door"


def test_an_unknown_door_is_404(client, operator):
    assert client.get(reverse("dashboard:door-open", args=[999999])).status_code == 404
    assert client.post(reverse("dashboard:door-open", args=[999999]), {"reason": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "This field is required."), ("x" * 301, "at most 300 characters")],
)
def test_an_open_without_a_fit_reason_is_refused(client, operator, door, reason, message):
    response = client.post(reverse("dashboard:door-open", args=[door.pk]), {"reason": reason})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DoorCommand.objects.exists()


def test_an_open_needs_the_csrf_token(door):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))

    response = client.post(reverse("dashboard:door-open", args=[door.pk]), {"reason": "Delivery"})

    assert response.status_code == 403
    assert not DoorCommand.objects.exists()


def test_a_confirmed_open_reaches_the_relay_and_is_audited(client, operator, http_door, relay):  # noqa: F811
    response = client.post(
        reverse("dashboard:door-open", args=[http_door.pk]), {"reason": "Courier with a trolley"},
        REMOTE_ADDR="198.51.100.9",
    )

    assert response.status_code == 302
    assert [request.json["action"] for request in relay.requests] == ["open"]
    assert relay.requests[0].signature_valid
    assert relay.requests[0].json["reason"] == "Courier with a trolley"
    command = DoorCommand.objects.get()
    assert (command.door, command.user, command.outcome) == (http_door, operator, DoorCommand.Outcome.SENT)
    audit = AuditLog.objects.get(content_type__model="doorcommand")
    assert (audit.action, audit.actor, audit.object_id) == ("create", operator, str(command.pk))
    assert audit.client_address == "198.51.100.9"
    assert audit.changes["reason"]["after"] == "Courier with a trolley"
    page = client.get(response["Location"]).content.decode()
    assert "Side gate is opening for 3 s." in page
    assert "Courier with a trolley" in page


def test_an_open_the_relay_refuses_says_so_and_is_kept(client, operator, http_door, relay):  # noqa: F811
    relay.failures_left = 10

    response = client.post(reverse("dashboard:door-open", args=[http_door.pk]), {"reason": "Fire drill"})

    command = DoorCommand.objects.get()
    assert command.outcome == DoorCommand.Outcome.FAILED
    page = client.get(response["Location"]).content.decode()
    assert f"Side gate was not opened: {command.error}" in page.replace("&#x27;", "'")
    assert "Not sent" in page
