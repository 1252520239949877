"""The allow, block and missing lists: who is on each, in force or not, and adding or removing members."""

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import RedirectURLMixin
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView, UpdateView

from access.watchlists import services
from access.watchlists.forms import AllowEntryForm, BlockEntryForm, MissingEntryForm
from access.watchlists.models import AllowEntry, BlockEntry, MissingEntry

from .access import DashboardAccess, model_permission


class ListPage(DashboardAccess, TemplateView):
    """One list and the form that adds to it: reading needs the model's `view` right, adding its `add`."""
    section = "watchlists"

    model: type[Model]
    form_class: type[ModelForm]
    url_name: str

    def get_permission_required(self) -> list[str]:
        return [model_permission(self.model, "add" if self.request.method == "POST" else "view")]

    def entries(self) -> QuerySet:
        raise NotImplementedError

    def current_ids(self, entries: QuerySet, now: datetime) -> set[int]:
        """The entries that act now (in force, or open)."""
        raise NotImplementedError

    def new_form(self, data: dict | None = None) -> ModelForm:
        return self.form_class(data)

    def get_context_data(self, form: ModelForm | None = None, **kwargs) -> dict[str, Any]:
        user, entries = self.request.user, self.entries()
        can_add = user.has_perm(model_permission(self.model, "add"))
        return {
            **super().get_context_data(**kwargs),
            "entries": entries,
            "current_ids": self.current_ids(entries, timezone.now()),
            "form": form or (self.new_form() if can_add else None),
            "can_remove": user.has_perm(model_permission(self.model, "delete")),
            "can_change": user.has_perm(model_permission(self.model, "change")),
            "tab": self.url_name,
        }

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.new_form(request.POST)
        if not form.is_valid():
            messages.error(request, "Nothing was added: correct the fields marked below.")
            return self.render_to_response(self.get_context_data(form=form), status=400)
        entry = form.save()
        messages.success(request, f"Added: {entry}.")
        return redirect("dashboard:" + self.url_name)


class AllowListView(ListPage):
    model, form_class, url_name = AllowEntry, AllowEntryForm, "allow-list"
    template_name = "dashboard/watchlists/allow.html"

    def entries(self) -> QuerySet:
        return AllowEntry.objects.select_related("person", "door", "door_group").prefetch_related("schedule")

    def current_ids(self, entries: QuerySet, now: datetime) -> set[int]:
        return set(entries.in_force(now).values_list("pk", flat=True))


class BlockListView(ListPage):
    model, form_class, url_name = BlockEntry, BlockEntryForm, "block-list"
    template_name = "dashboard/watchlists/block.html"

    def entries(self) -> QuerySet:
        return BlockEntry.objects.select_related("person", "added_by")

    def current_ids(self, entries: QuerySet, now: datetime) -> set[int]:
        return set(entries.in_force(now).values_list("pk", flat=True))

    def new_form(self, data: dict | None = None) -> ModelForm:
        return BlockEntryForm(data, instance=BlockEntry(added_by=self.request.user))


class MissingListView(ListPage):
    model, form_class, url_name = MissingEntry, MissingEntryForm, "missing-list"
    template_name = "dashboard/watchlists/missing.html"

    def entries(self) -> QuerySet:
        return MissingEntry.objects.select_related("person")

    def current_ids(self, entries: QuerySet, now: datetime) -> set[int]:
        return set(entries.open_at(now).values_list("pk", flat=True))


class AllowEntryEditView(DashboardAccess, RedirectURLMixin, UpdateView):
    """An allow entry's door, validity, weekly hours and note changed; back to the page it was opened from
    (`?next=`, on this site only), else the allow list."""
    section = "watchlists"

    model = AllowEntry
    form_class = AllowEntryForm
    permission_required = "watchlists.change_allowentry"
    template_name = "dashboard/watchlists/allow_edit.html"
    next_page = reverse_lazy("dashboard:allow-list")

    def get_queryset(self) -> QuerySet:
        return AllowEntry.objects.select_related("person").prefetch_related("schedule")

    def form_valid(self, form: AllowEntryForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, f"Saved: {self.object}.")
        return response

    def form_invalid(self, form: AllowEntryForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        return {**context, "next": self.get_redirect_url(), "back": self.get_success_url()}


class EntryAction(DashboardAccess, View):
    """A POST on one entry of a list, back to that list with a message; an unknown entry is a 404."""

    http_method_names = ["post"]
    model: type[Model]
    action: str  # the model permission it needs
    list_url_name: str

    def get_permission_required(self) -> list[str]:
        return [model_permission(self.model, self.action)]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(self.model, pk=pk)
        messages.success(request, self.apply(entry))
        return redirect(reverse("dashboard:" + self.list_url_name))

    def apply(self, entry: Model) -> str:
        raise NotImplementedError


class RemoveEntry(EntryAction):
    action = "delete"

    def apply(self, entry: Model) -> str:
        description = str(entry)
        entry.delete()
        return f"Removed: {description}."


class RemoveAllowEntry(RemoveEntry):
    model, list_url_name = AllowEntry, "allow-list"


class RemoveBlockEntry(RemoveEntry):
    model, list_url_name = BlockEntry, "block-list"


class RemoveMissingEntry(RemoveEntry):
    model, list_url_name = MissingEntry, "missing-list"


class CloseCase(EntryAction):
    model, action, list_url_name = MissingEntry, "change", "missing-list"

    def apply(self, entry: MissingEntry) -> str:
        services.close_case(entry)
        return f"Closed case {entry.case_number} of {entry.person}: sighting them no longer raises an alert."
