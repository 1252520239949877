from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.core.errors import Conflict

from . import services
from .models import Alert, AlertDelivery


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    fields = ["channel", "target", "status", "attempts", "last_attempt_at", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "person", "camera", "door", "created_at", "acknowledged_by"]
    list_filter = ["kind", "state", "created_at", "door", "camera"]
    list_select_related = ["person", "camera", "door", "acknowledged_by"]
    search_fields = ["person__name", "person__external_id", "message", "resolution_note"]
    ordering = ["-created_at"]
    inlines = [AlertDeliveryInline]
    readonly_fields = [
        "kind",
        "event",
        "person",
        "camera",
        "door",
        "message",
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
