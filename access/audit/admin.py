from django.contrib import admin
from django.http import HttpRequest

from .models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """The trail is append-only: nobody adds, edits or deletes entries here."""

    list_display = [
        "occurred_at",
        "actor_name",
        "action",
        "source",
        "content_type",
        "object_repr",
        "client_address",
    ]
    list_filter = ["action", "source", "content_type", "occurred_at"]
    search_fields = ["actor_name", "object_repr", "object_id", "client_address"]
    ordering = ["-occurred_at"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
