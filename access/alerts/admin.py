from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.core.errors import Conflict

from . import services
from .models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "event", "created_at", "acknowledged_by", "resolved_by"]
    list_filter = ["kind", "state", "created_at"]
    search_fields = ["event__person__name", "event__person__external_id", "resolution_note"]
    ordering = ["-created_at"]
    readonly_fields = [
        "kind",
        "event",
        "state",
        "created_at",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_by",
        "resolved_at",
    ]
    actions = ["acknowledge", "resolve"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Acknowledge selected alerts", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, services.acknowledge)

    @admin.action(description="Resolve selected alerts", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, services.resolve)

    def _apply(self, request: HttpRequest, queryset: QuerySet, step) -> None:
        for alert in queryset:
            try:
                step(alert, request.user)
            except Conflict as exc:
                self.message_user(request, str(exc), messages.WARNING)
