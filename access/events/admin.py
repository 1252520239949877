from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events are history written by the pipeline: read here, and deleted by whoever may delete them."""

    list_display = ["occurred_at", "decision", "door", "camera", "person", "distance", "reason"]
    list_filter = ["decision", "door", "camera", "occurred_at"]
    search_fields = ["person__name", "person__external_id", "reason", "idempotency_key"]
    ordering = ["-occurred_at"]
    date_hierarchy = "occurred_at"
    fields = [
        "occurred_at",
        "decision",
        "reason",
        "camera",
        "door",
        "person",
        "distance",
        "snapshot_link",
        "idempotency_key",
    ]
    readonly_fields = fields

    @admin.display(description="snapshot")
    def snapshot_link(self, event: Event) -> str:
        if not event.snapshot:
            return "-"
        return format_html(
            '<a href="{}" target="_blank">view snapshot</a>', reverse("api:event-snapshot", args=[event.pk])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
