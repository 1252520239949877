from django.contrib import admin
from django.http import HttpRequest

from .models import Track


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    """Tracks are the frame workers' working state: read here to see why a passage was decided as it was."""

    list_display = ["pk", "camera", "first_seen_at", "last_seen_at", "decided"]
    list_filter = ["camera"]
    ordering = ["-last_seen_at"]
    readonly_fields = ["camera", "box", "first_seen_at", "last_seen_at", "observations", "decided"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
