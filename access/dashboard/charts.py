"""The figures behind the charts page, counted by the database, and the geometry of the server-drawn SVG.

Grants and denies are events; alerts are Alert rows (sightings and equipment alike). An event decided `alert`
(a blocklisted or missing person) is counted as its alert, not as a deny.
"""

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Min, Q, QuerySet, Value
from django.db.models.functions import Floor, TruncHour
from django.utils import timezone

from access.alerts.models import Alert
from access.cameras.models import MAX_MATCH_THRESHOLD, Camera
from access.events.models import Event

NO_DOOR = "No door"
SERIES = ("grants", "denies", "alerts")
DISTANCE_BIN = 0.05
BIN_EDGE_NUDGE = 1e-9


@dataclass(frozen=True)
class Counts:
    label: str
    grants: int = 0
    denies: int = 0
    alerts: int = 0

    @property
    def total(self) -> int:
        return self.grants + self.denies + self.alerts


def _decisions(events: QuerySet, by: str) -> dict[object, dict[str, int]]:
    """{value of `by`: {"grants": n, "denies": n}} from values(by, "decision") rows annotated with `n`."""
    counted: dict[object, dict[str, int]] = {}
    series = {Event.Decision.GRANT: "grants", Event.Decision.DENY: "denies"}
    for row in events:
        if row["decision"] in series:
            counted.setdefault(row[by], {})[series[row["decision"]]] = row["n"]
    return counted


def hour_starts(now: datetime, hours: int) -> list[datetime]:
    """The starts of the last `hours` hours in local time, oldest first, the one under way last."""
    # Stepped in UTC: local wall-clock arithmetic would skip or repeat an hour where daylight saving turns.
    current = timezone.localtime(now).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return [timezone.localtime(current - timedelta(hours=back)) for back in range(hours - 1, -1, -1)]


def hourly_counts(now: datetime, hours: int = 24) -> list[Counts]:
    """Grants, denies and alerts in each of the last `hours` hours, the current one last."""
    starts = hour_starts(now, hours)
    since, until = starts[0], starts[-1] + timedelta(hours=1)
    events = (
        Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        .annotate(hour=TruncHour("occurred_at"))
        .values("hour", "decision")
        .annotate(n=Count("pk"))
        .order_by()
    )
    decisions = _decisions(events, by="hour")
    alerts = dict(
        Alert.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("hour", "n")
    )
    return [
        Counts(f"{start:%H}:00", **decisions.get(start, {}), alerts=alerts.get(start, 0)) for start in starts
    ]


def door_counts(since: datetime, until: datetime) -> list[Counts]:
    """Grants, denies and alerts per door from `since` until `until`, busiest door first."""
    events = (
        Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        .values("door__name", "decision")
        .annotate(n=Count("pk"))
        .order_by()
    )
    decisions = _decisions(events, by="door__name")
    alerts = dict(
        Alert.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("door__name")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("door__name", "n")
    )
    doors = {*decisions, *alerts}
    counts = [
        Counts(door or NO_DOOR, **decisions.get(door, {}), alerts=alerts.get(door, 0)) for door in doors
    ]
    return sorted(counts, key=lambda row: (-row.total, row.label))


@dataclass(frozen=True)
class Threshold:
    value: float
    units: str


def camera_threshold(camera: Camera) -> Threshold:
    """The threshold the camera's faces are held to now, picked as the workers pick it (`scoring_for`)."""
    if camera.match_threshold is not None:
        return Threshold(camera.match_threshold, "face-code distance (this camera's own threshold)")
    if settings.FACEGATE_COHORT_FILE.is_file():
        return Threshold(settings.FACEGATE_COHORT_THRESHOLD, "cohort-normalised score (site threshold)")
    return Threshold(settings.FACEGATE_MATCH_THRESHOLD, "face-code distance (site threshold)")


@dataclass(frozen=True)
class DistanceHistogram:
    """Match distances at one camera, in bins of `bin_width` from 0: faces that matched someone against faces
    that matched nobody, whose distance is to the nearest enrolled face."""

    bin_width: float
    matched: list[int]
    unmatched: list[int]
    farthest_match: float | None
    nearest_unmatched: float | None
    threshold: Threshold

    @property
    def upper(self) -> float:
        return len(self.matched) * self.bin_width

    @property
    def total(self) -> int:
        return sum(self.matched) + sum(self.unmatched)

    @property
    def margin(self) -> float | None:
        """How far the closest stranger stayed from the farthest accepted face; negative when they overlap."""
        if self.farthest_match is None or self.nearest_unmatched is None:
            return None
        return self.nearest_unmatched - self.farthest_match


def distance_histogram(camera: Camera, since: datetime, bin_width: float = DISTANCE_BIN) -> DistanceHistogram:
    events = Event.objects.filter(camera=camera, occurred_at__gte=since, distance__isnull=False)
    extremes = events.aggregate(
        farthest_match=Max("distance", filter=Q(person__isnull=False)),
        nearest_unmatched=Min("distance", filter=Q(person__isnull=True)),
        largest=Max("distance"),
    )
    threshold = camera_threshold(camera)
    # Wide enough for every distance and twice the threshold, so the line never sits at the right edge.
    reach = min(max(extremes["largest"] or 0.0, 2 * threshold.value), MAX_MATCH_THRESHOLD)
    bins = max(1, math.ceil(round(reach / bin_width, 6)))
    matched, unmatched = [0] * bins, [0] * bins
    rows = (
        events.annotate(
            # Distances are binary floats (0.3 / 0.05 = 5.999...): the nudge keeps a decimal edge in the bin
            # it starts.
            bin=Floor(F("distance") / bin_width + Value(BIN_EDGE_NUDGE)),
            unmatched=ExpressionWrapper(Q(person__isnull=True), output_field=BooleanField()),
        )
        .values("bin", "unmatched")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        index = min(int(row["bin"]), bins - 1)  # a distance of exactly the upper edge joins the last bin
        (unmatched if row["unmatched"] else matched)[index] += row["n"]
    return DistanceHistogram(
        bin_width, matched, unmatched, extremes["farthest_match"], extremes["nearest_unmatched"], threshold
    )



# The SVG charts are drawn in a fixed coordinate space (the viewBox) that the page scales to its width.
@dataclass(frozen=True)
class Frame:
    width: int = 960
    height: int = 260
    left: int = 44
    right: int = 12
    top: int = 14
    bottom: int = 30

    @property
    def base(self) -> int:
        return self.height - self.bottom

    @property
    def end(self) -> int:
        return self.width - self.right

    @property
    def plot_width(self) -> int:
        return self.end - self.left

    @property
    def plot_height(self) -> int:
        return self.base - self.top


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Tick:
    at: float  # x on the horizontal axis, y on the vertical one
    label: str


@dataclass(frozen=True)
class Plot:
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    frame: Frame = Frame()
    marker: Tick | None = None  # a vertical line across the plot: the threshold


def axis_top(largest: int) -> int:
    """The top of a count axis: the first of 1, 2, 5, 10, 20, 50... that reaches `largest`."""
    top, steps = 1, itertools.cycle((2, 2.5, 2))
    while top < largest:
        top = round(top * next(steps))
    return top


def _count_axis(largest: int, frame: Frame) -> tuple[float, list[Tick]]:
    """Pixels per count, and the ticks at 0, half way and the top."""
    top = axis_top(largest)
    scale = frame.plot_height / top
    values = sorted({0, top // 2, top})
    return scale, [Tick(frame.base - value * scale, str(value)) for value in values]


def hourly_plot(hours: list[Counts], frame: Frame = Frame()) -> Plot:
    """Three bars per hour, side by side: grants, denies, alerts; every third hour labelled."""
    scale, y_ticks = _count_axis(max((max(h.grants, h.denies, h.alerts) for h in hours), default=0), frame)
    slot = frame.plot_width / len(hours)
    bar_width = slot * 0.8 / len(SERIES)
    bars, x_ticks = [], []
    for index, hour in enumerate(hours):
        slot_left = frame.left + index * slot + slot * 0.1
        for offset, series in enumerate(SERIES):
            count = getattr(hour, series)
            if count:
                bars.append(
                    Bar(slot_left + offset * bar_width, frame.base - count * scale, bar_width, count * scale,
                        series, f"{hour.label}: {count} {series}")
                )
        if index % 3 == 0:
            x_ticks.append(Tick(frame.left + (index + 0.5) * slot, hour.label))
    return Plot(bars, x_ticks, y_ticks, frame)


def histogram_plot(histogram: DistanceHistogram, frame: Frame = Frame()) -> Plot:
    """Stacked bars per bin (matched below, matched nobody above) and the threshold as a vertical line."""
    heights = [m + u for m, u in zip(histogram.matched, histogram.unmatched, strict=True)]
    scale, y_ticks = _count_axis(max(heights, default=0), frame)
    per_unit = frame.plot_width / histogram.upper
    width = histogram.bin_width * per_unit
    bars = []
    for index, (matched, unmatched) in enumerate(zip(histogram.matched, histogram.unmatched, strict=True)):
        x = frame.left + index * width
        low, high = index * histogram.bin_width, (index + 1) * histogram.bin_width
        span = f"{low:.2f}-{high:.2f}"
        if matched:
            bars.append(Bar(x, frame.base - matched * scale, width, matched * scale, "matched",
                            f"{span}: {matched} matched someone"))
        if unmatched:
            bars.append(Bar(x, frame.base - (matched + unmatched) * scale, width, unmatched * scale,
                            "unmatched", f"{span}: {unmatched} matched nobody"))
    labelled = max(1, round(0.1 / histogram.bin_width))  # a label every 0.1
    x_ticks = [
        Tick(frame.left + index * width, f"{index * histogram.bin_width:.1f}")
        for index in range(0, len(histogram.matched) + 1, labelled)
    ]
    threshold = histogram.threshold.value
    marker = Tick(frame.left + threshold * per_unit, f"threshold {threshold:g}")
    return Plot(bars, x_ticks, y_ticks, frame, marker)
