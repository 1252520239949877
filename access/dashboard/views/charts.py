"""Charts: grants, denies and alerts per hour and per door over the last 24 hours, and the match distances
at a chosen camera against its threshold, so an installer sees the margin before changing the threshold."""

from datetime import timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.generic import TemplateView

from access.cameras.models import Camera

from .. import charts
from .access import DashboardAccess

HOURS = 24
PERIODS = {"1": "the last day", "7": "the last 7 days", "30": "the last 30 days"}
DEFAULT_DAYS = "7"


class HistogramChoice(forms.Form):
    camera = forms.ModelChoiceField(Camera.objects.all(), empty_label=None)
    days = forms.ChoiceField(choices=PERIODS.items(), label="Period")


class ChartsView(DashboardAccess, TemplateView):
    """Counts of events and alerts: for whoever may read events (viewers included), as the feed is."""
    section = "charts"

    template_name = "dashboard/charts/charts.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        first = Camera.objects.first()
        default = {"camera": first.pk if first else None, "days": DEFAULT_DAYS}
        choice = HistogramChoice(request.GET or default)
        asked_badly = bool(request.GET) and not choice.is_valid()
        return self.render_to_response(self.get_context_data(choice), status=400 if asked_badly else 200)

    def get_context_data(self, choice: HistogramChoice, **kwargs) -> dict[str, Any]:
        now = timezone.now()
        hours = charts.hourly_counts(now, HOURS)
        doors = charts.door_counts(charts.hour_starts(now, HOURS)[0], now)
        context = {
            **super().get_context_data(**kwargs),
            "hours": hours,
            "hourly_plot": charts.hourly_plot(hours),
            "doors": doors,
            "busiest_door": max((row.total for row in doors), default=0),
            "choice": choice,
        }
        if not choice.is_valid():
            return context
        camera, days = choice.cleaned_data["camera"], choice.cleaned_data["days"]
        histogram = charts.distance_histogram(camera, now - timedelta(days=int(days)))
        return {
            **context,
            "camera": camera,
            "period": PERIODS[days],
            "histogram": histogram,
            "histogram_plot": charts.histogram_plot(histogram),
        }
