"""The charts' figures, counted from real events and alerts in the database, and the page that draws them."""

from datetime import UTC, datetime, timedelta
from itertools import count, pairwise

import pytest
from django.urls import reverse
from django.utils import timezone

from access.alerts.models import Alert
from access.cameras.models import Camera
from access.dashboard import charts
from access.doors.models import Door
from access.events.models import Event
from access.events.services import record_event
from tests.access.conftest import make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 14, 20, tzinfo=UTC)
_keys = count()


def event(at: datetime, decision: str, camera: Camera | None = None, door: Door | None = None, person=None,
          distance: float | None = None) -> Event:
    recorded, _ = record_event(f"chart-{next(_keys)}", occurred_at=at, camera=camera, door=door,
                               person=person, decision=decision, distance=distance, reason="test")
    return recorded


def alert(at: datetime, kind: str = Alert.Kind.BLOCKLIST, **fields) -> Alert:
    raised = Alert.objects.create(kind=kind, **fields)
    Alert.objects.filter(pk=raised.pk).update(created_at=at)  # created_at is set on save
    return raised


@pytest.fixture
def side_door(db) -> Door:
    return Door.objects.create(name="Side gate", controller_kind="mqtt", mqtt_topic="doors/side")


@pytest.fixture
def site(camera, door, side_door, person) -> None:
    """Over the 24 hours up to NOW (14:20): the main door in the hour under way and the one before, the side
    gate an hour earlier, and what lies just inside and just outside the 24 hours."""
    event(NOW - timedelta(minutes=15), "grant", camera, door, person)  # 14:05
    event(NOW - timedelta(minutes=10), "deny", camera, door)  # 14:10
    sighting = event(NOW - timedelta(minutes=5), "alert", camera, door, person)  # 14:15: counted as its alert
    alert(NOW - timedelta(minutes=5), event=sighting, door=door, person=person)
    event(NOW - timedelta(minutes=21), "grant", camera, door, person)  # 13:59
    event(NOW - timedelta(minutes=50), "deny", door=side_door)  # 13:30
    alert(NOW - timedelta(minutes=35), Alert.Kind.CONTROLLER_OFFLINE, door=side_door)  # 13:45
    event(datetime(2026, 11, 29, 15, 0, tzinfo=UTC), "deny")  # the first hour's first instant, no door
    event(datetime(2026, 11, 29, 14, 59, tzinfo=UTC), "grant", camera, door, person)  # a minute too early
    event(NOW + timedelta(hours=1), "grant", camera, door, person)  # the next hour: not yet shown


def test_hourly_counts_fill_every_hour_of_the_last_day(site):
    hours = charts.hourly_counts(NOW, 24)

    assert [hour.label for hour in hours][:3] == ["15:00", "16:00", "17:00"]
    assert hours[-1].label == "14:00" and len(hours) == 24
    assert hours[-1] == charts.Counts("14:00", grants=1, denies=1, alerts=1)
    assert hours[-2] == charts.Counts("13:00", grants=1, denies=1, alerts=1)
    assert hours[0] == charts.Counts("15:00", grants=0, denies=1, alerts=0)
    assert sum(hour.total for hour in hours) == 7


def test_hourly_counts_are_in_local_time(site, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30: its hours start at half past in UTC

    hours = charts.hourly_counts(NOW, 24)

    # 14:20 UTC is 19:50 there: the hour under way began at 13:30 UTC, the first of the 24 at 14:30 UTC on the
    # day before, which takes in the grant of 14:59 UTC.
    assert hours[-1] == charts.Counts("19:00", grants=2, denies=2, alerts=2)
    assert hours[-2] == charts.Counts("18:00")
    assert hours[0] == charts.Counts("20:00", grants=1, denies=1)


def test_door_counts_busiest_first(site):
    doors = charts.door_counts(datetime(2026, 11, 29, 15, 0, tzinfo=UTC), NOW)

    assert doors == [
        charts.Counts("Main entrance", grants=2, denies=1, alerts=1),
        charts.Counts("Side gate", grants=0, denies=1, alerts=1),
        charts.Counts(charts.NO_DOOR, grants=0, denies=1, alerts=0),
    ]


def add_distances(camera: Camera, person, now: datetime) -> Camera:
    """Three faces matched (0.12, 0.31, 0.33), three matched nobody (0.52, 0.58, 0.91), two hours before
    `now`; a face without a distance, one eight days before and one at another camera, left out."""
    camera.match_threshold = 0.4
    camera.save()
    at = now - timedelta(hours=2)
    for distance in (0.12, 0.31, 0.33):
        event(at, "grant", camera, camera.door, person, distance)
    for distance in (0.52, 0.58, 0.91):
        event(at, "deny", camera, camera.door, distance=distance)
    event(at, "deny", camera, camera.door)  # no distance (cohort scoring of a stranger)
    event(now - timedelta(days=8), "deny", camera, camera.door, distance=0.2)
    elsewhere = Camera.objects.create(name="Yard cam", source_url="rtsp://10.0.0.9/stream1")
    event(at, "deny", elsewhere, distance=0.44)
    return camera


@pytest.fixture
def distances(camera, person) -> Camera:
    return add_distances(camera, person, NOW)


def test_distance_histogram_counts_each_bin_and_the_margin(distances):
    histogram = charts.distance_histogram(distances, NOW - timedelta(days=7))

    assert histogram.bin_width == 0.05
    assert len(histogram.matched) == 19  # to 0.95: past the largest distance (0.91) and twice the threshold
    assert {index: n for index, n in enumerate(histogram.matched) if n} == {2: 1, 6: 2}
    assert {index: n for index, n in enumerate(histogram.unmatched) if n} == {10: 1, 11: 1, 18: 1}
    assert histogram.total == 6
    assert (histogram.farthest_match, histogram.nearest_unmatched) == (0.33, 0.52)
    assert histogram.margin == pytest.approx(0.19)
    assert histogram.threshold == charts.Threshold(0.4, "face-code distance (this camera's own threshold)")


def test_a_distance_on_a_bin_edge_starts_that_bin(camera, person):
    for distance in (0.3, 0.35):
        event(NOW, "grant", camera, camera.door, person, distance)

    histogram = charts.distance_histogram(camera, NOW - timedelta(days=1))

    assert {index: n for index, n in enumerate(histogram.matched) if n} == {6: 1, 7: 1}


def test_overlapping_distances_give_a_negative_margin(camera, person):
    event(NOW, "grant", camera, camera.door, person, 0.42)
    event(NOW, "deny", camera, camera.door, distance=0.40)

    assert charts.distance_histogram(camera, NOW - timedelta(days=1)).margin == pytest.approx(-0.02)


def test_the_threshold_drawn_is_the_one_the_workers_use(camera, settings, tmp_path):
    settings.FACEGATE_MATCH_THRESHOLD = 0.43
    settings.FACEGATE_COHORT_THRESHOLD = 0.77
    settings.FACEGATE_COHORT_FILE = tmp_path / "cohort.enc"

    assert charts.camera_threshold(camera) == charts.Threshold(0.43, "face-code distance (site threshold)")
    settings.FACEGATE_COHORT_FILE.write_bytes(b"installed")
    cohort = charts.Threshold(0.77, "cohort-normalised score (site threshold)")
    assert charts.camera_threshold(camera) == cohort
    camera.match_threshold = 0.5
    assert charts.camera_threshold(camera).value == 0.5


@pytest.mark.parametrize(("largest", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (101, 200)])
def test_a_count_axis_ends_on_a_round_number(largest, top):
    assert charts.axis_top(largest) == top


def test_the_histogram_plot_puts_the_threshold_where_its_distance_is(distances):
    histogram = charts.distance_histogram(distances, NOW - timedelta(days=7))
    frame = charts.Frame()

    plot = charts.histogram_plot(histogram, frame)

    per_unit = frame.plot_width / histogram.upper
    assert plot.marker.at == pytest.approx(frame.left + 0.4 * per_unit)
    assert plot.marker.label == "threshold 0.4"
    assert sorted((bar.series, bar.title) for bar in plot.bars) == [
        ("matched", "0.10-0.15: 1 matched someone"),
        ("matched", "0.30-0.35: 2 matched someone"),
        ("unmatched", "0.50-0.55: 1 matched nobody"),
        ("unmatched", "0.55-0.60: 1 matched nobody"),
        ("unmatched", "0.90-0.95: 1 matched nobody"),
    ]
    tallest = max(plot.bars, key=lambda bar: bar.height)
    assert tallest.height == pytest.approx(frame.plot_height) and tallest.y == pytest.approx(frame.top)


def test_the_hourly_plot_draws_a_bar_per_count(site):
    plot = charts.hourly_plot(charts.hourly_counts(NOW, 24))

    assert len(plot.bars) == 7  # grants, denies and alerts in three hours, but no alert in the first
    assert [tick.label for tick in plot.x_ticks] == ["15:00", "18:00", "21:00", "00:00", "03:00", "06:00",
                                                     "09:00", "12:00"]


@pytest.mark.parametrize(("role", "status"), [("viewer", 200), ("operator", 200), ("device", 403)])
def test_whoever_reads_events_sees_the_charts(client, camera, role, status):
    client.force_login(make_user(role))
    assert client.get(reverse("dashboard:charts")).status_code == status


def test_the_page_shows_the_chosen_camera(client, camera, person):
    add_distances(camera, person, timezone.now())
    client.force_login(make_user("viewer"))

    page = client.get(reverse("dashboard:charts"), {"camera": camera.pk, "days": "7"}).content.decode()

    assert "Match distances at Main entrance cam, the last 7 days" in page
    assert '<dd class="farthest-match">0.330</dd>' in page
    assert '<dd class="margin-value">0.190</dd>' in page
    assert page.count('class="bar matched"') == 2 and page.count('class="bar unmatched"') == 3


@pytest.mark.parametrize("query", [{"camera": "999999", "days": "7"}, {"camera": "x"}, {"days": "365"}])
def test_a_bad_choice_of_camera_or_period_is_400(client, camera, query):
    client.force_login(make_user("viewer"))

    response = client.get(reverse("dashboard:charts"), query)

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode() or "This field is required" in (
        response.content.decode()
    )


def test_the_hours_stay_whole_where_daylight_saving_turns(settings):
    settings.TIME_ZONE = "Europe/Berlin"  # clocks went back from 03:00 to 02:00 on 26 October 2025
    turned = datetime(2025, 10, 26, 4, 10, tzinfo=UTC)  # 05:10 in Berlin

    starts = charts.hour_starts(turned, 5)

    assert [f"{start:%H}" for start in starts] == ["02", "02", "03", "04", "05"]  # 02:00 came twice
    instants = [start.astimezone(UTC) for start in starts]
    assert [later - earlier for earlier, later in pairwise(instants)] == [timedelta(hours=1)] * 4
