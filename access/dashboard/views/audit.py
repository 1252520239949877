"""The audit log: who created, changed or deleted what, from where; filtered with the API's own filter set."""

from typing import Any

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse
from django.views.generic import ListView

from access.audit.filtersets import AuditLogFilterSet
from access.audit.models import AuditLog
from access.audit.services import AUDITED_APP_LABELS

from .access import DashboardAccess

PAGE_SIZE = 50
FILTER_LABELS = {
    "actor": "Who",
    "object_type": "Object type",
    "object_id": "Object id",
    "occurred_after": "From",
    "occurred_before": "Until",
}
LOCAL_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AuditLogView(DashboardAccess, ListView):
    section = "audit"
    template_name = "dashboard/audit/log.html"
    permission_required = "audit.view_auditlog"
    paginate_by = PAGE_SIZE
    context_object_name = "entries"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.filterset = AuditLogFilterSet(
            request.GET or None, queryset=AuditLog.objects.select_related("content_type")
        )
        fields = self.filterset.form.fields
        fields["object_type"].widget = forms.Select(choices=object_type_choices())
        fields["actor"].empty_label = "Anyone"
        for name in ("occurred_after", "occurred_before"):
            fields[name].widget = LOCAL_DATETIME
        for name, label in FILTER_LABELS.items():
            fields[name].label = label
        response = super().get(request, *args, **kwargs)
        if self.filterset.is_bound and not self.filterset.is_valid():
            response.status_code = 400
        return response

    def get_queryset(self) -> Any:
        if self.filterset.is_bound and not self.filterset.is_valid():
            return AuditLog.objects.none()
        return self.filterset.qs

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "filter_form": self.filterset.form}


def object_type_choices() -> list[tuple[str, str]]:
    """Every audited model, as the filter set names it (app_label.model)."""
    types = ContentType.objects.filter(app_label__in=AUDITED_APP_LABELS).order_by("app_label", "model")
    return [("", "Any type"), *((f"{t.app_label}.{t.model}", f"{t.app_label}.{t.model}") for t in types)]
