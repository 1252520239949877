"""Who reaches the dashboard: the API's readers of events do; anonymous people are sent to sign in and
device accounts are refused. These run without a browser."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from access.alerts.models import Alert
from access.alerts.services import raise_alert, resolve
from access.events.services import record_event
from tests.access.conftest import make_user

PAGES = ["dashboard:feed"]

# Not committing: the alert raised here must not be delivered by the suite's worker while a flush empties
# the tables (the two deadlock).
pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(camera, person) -> Alert:
    event, _ = record_event("k", camera=camera, door=camera.door, person=person, decision="alert",
                            distance=0.31, reason="Blocklisted: trespass")
    return raise_alert(Alert.Kind.BLOCKLIST, event=event)[0]


def fragment_urls(alert: Alert) -> list[str]:
    return [
        reverse("dashboard:event-row", args=[alert.event_id]),
        reverse("dashboard:alert-banner", args=[alert.pk]),
    ]


def test_anonymous_people_are_sent_to_sign_in(client, alert):
    for url in [reverse(name) for name in PAGES] + fragment_urls(alert):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("dashboard:login"))


def test_device_accounts_are_refused(client, alert):
    client.force_login(make_user("device"))
    for url in [reverse(name) for name in PAGES] + fragment_urls(alert):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize(("role", "offers_actions"), [("viewer", False), ("operator", True), ("admin", True)])
def test_readers_see_the_feed_and_only_operators_get_actions(client, alert, role, offers_actions):
    client.force_login(make_user(role))

    feed = client.get(reverse("dashboard:feed")).content.decode()
    banner = client.get(reverse("dashboard:alert-banner", args=[alert.pk])).content.decode()

    assert f'data-event-id="{alert.event_id}"' in feed
    assert f'data-alert-id="{alert.pk}"' in feed
    for page in (feed, banner):
        assert ('class="acknowledge"' in page) is offers_actions
        assert ('class="resolve"' in page) is offers_actions


def test_a_resolved_alert_has_no_banner(client, alert):
    operator = make_user("operator")
    client.force_login(operator)
    resolve(alert, operator, "Escorted out")

    response = client.get(reverse("dashboard:alert-banner", args=[alert.pk]))

    assert response.status_code == 200
    assert response.content.decode().strip() == ""


def test_an_unknown_event_row_is_404(client):
    client.force_login(make_user("viewer"))
    assert client.get(reverse("dashboard:event-row", args=[999999])).status_code == 404


@pytest.mark.parametrize(
    ("page", "link"),
    [
        ("dashboard:feed", "Live feed"),
        ("dashboard:people", "People"),
        ("dashboard:person-add", "People"),
        ("dashboard:block-list", "Watchlists"),
        ("dashboard:doors", "Doors"),
        ("dashboard:cameras", "Cameras"),
        ("dashboard:charts", "Charts"),
        ("dashboard:audit", "Audit log"),
    ],
)
def test_the_navigation_marks_the_page_it_is_on(client, page, link):
    client.force_login(make_user("admin"))

    html = client.get(reverse(page)).content.decode()

    nav = html[html.index("<nav"):html.index("</nav>")]
    assert nav.count('aria-current="page"') == 1
    assert f'aria-current="page">{link}</a>' in nav


def test_alerts_need_their_own_right(client, alert):
    reader = get_user_model().objects.create_user("events-only", password="unused-pw-123")
    read_events = Permission.objects.get(codename="view_event", content_type__app_label="events")
    reader.user_permissions.add(read_events)
    client.force_login(reader)

    feed = client.get(reverse("dashboard:feed")).content.decode()

    assert f'data-event-id="{alert.event_id}"' in feed
    assert f'data-alert-id="{alert.pk}"' not in feed
    assert client.get(reverse("dashboard:alert-banner", args=[alert.pk])).status_code == 403
