"""Doors: whether each controller is heard from, its lock state and fail mode, the latest commands, and
opening a door by hand after a confirmation, through the service the API's `POST /api/doors/{id}/open/`
uses."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from access.doors import services
from access.doors.models import Door, DoorCommand

from .access import DashboardAccess

VIEW_DOORS = "doors.view_door"
# The API's rule for a manual open: the door `change` permission (operators and admins).
OPEN_DOORS = "doors.change_door"
RECENT_COMMANDS = 20
# Status pages reload themselves this often, so "online" never outlives the heartbeats behind it.
REFRESH_SECONDS = 15


class ManualOpenForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        help_text="Why the door is opened by hand; kept with the command in the audit log.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )


class SelfRefreshing:
    """A page the browser reloads every REFRESH_SECONDS (the Refresh header: no script needed)."""

    def render_to_response(self, context: dict[str, Any], **kwargs) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        response["Refresh"] = str(REFRESH_SECONDS)
        return response


class DoorListView(DashboardAccess, SelfRefreshing, TemplateView):
    section = "doors"
    template_name = "dashboard/doors/list.html"
    permission_required = VIEW_DOORS

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        now = timezone.now()
        doors = list(Door.objects.select_related("status").prefetch_related("cameras"))
        return {
            **super().get_context_data(**kwargs),
            "doors": [(door, door.controller_online(now)) for door in doors],
            "commands": DoorCommand.objects.select_related("user")[:RECENT_COMMANDS],
            "can_open": self.request.user.has_perm(OPEN_DOORS),
        }


class DoorOpenView(DashboardAccess, TemplateView):
    """GET asks for the reason and a confirmation; POST opens the door for its open duration."""
    section = "doors"

    template_name = "dashboard/doors/open.html"
    permission_required = OPEN_DOORS

    @cached_property
    def door(self) -> Door:
        # Looked up in the handler, after the permission check: refused accounts learn nothing of the doors.
        return get_object_or_404(Door, pk=self.kwargs["pk"])

    def get_context_data(self, form: ManualOpenForm | None = None, **kwargs) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "door": self.door, "form": form or ManualOpenForm()}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = ManualOpenForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        command = services.command_door(
            self.door, DoorCommand.Action.OPEN, reason=form.cleaned_data["reason"], user=request.user
        )
        if command.outcome == DoorCommand.Outcome.SENT:
            messages.success(request, f"{self.door} is opening for {self.door.open_seconds:g} s.")
        else:
            messages.error(request, f"{self.door} was not opened: {command.error}")
        return redirect("dashboard:doors")
