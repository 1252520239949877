from django.contrib import admin
from django.utils import timezone

from .models import Door, DoorCommand, DoorGroup


@admin.register(Door)
class DoorAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "location",
        "controller_kind",
        "mqtt_topic",
        "http_url",
        "open_seconds",
        "fail_mode",
        "controller_online",
        "last_heartbeat_at",
        "lock_state",
        "fail_mode_active",
    ]
    list_filter = ["controller_kind", "fail_mode", "groups"]
    search_fields = ["name", "location", "mqtt_topic", "http_url"]
    ordering = ["name"]
    list_select_related = ["status"]
    readonly_fields = ["controller_online", "last_heartbeat_at", "lock_state", "fail_mode_active"]

    @admin.display(boolean=True, description="online")
    def controller_online(self, door: Door) -> bool | None:
        return door.controller_online(timezone.now())

    @admin.display(description="last heartbeat")
    def last_heartbeat_at(self, door: Door):
        status = getattr(door, "status", None)
        return status.last_heartbeat_at if status else None

    @admin.display(description="state")
    def lock_state(self, door: Door) -> str:
        status = getattr(door, "status", None)
        return status.get_state_display() if status and status.state else "unknown"

    @admin.display(boolean=True, description="fail mode active")
    def fail_mode_active(self, door: Door) -> bool:
        status = getattr(door, "status", None)
        return bool(status and status.fail_mode_active)


@admin.register(DoorGroup)
class DoorGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description", "doors__name"]
    ordering = ["name"]
    filter_horizontal = ["doors"]


@admin.register(DoorCommand)
class DoorCommandAdmin(admin.ModelAdmin):
    """The record of what doors were told; written by FaceGate only."""

    list_display = ["requested_at", "door_name", "action", "outcome", "reason", "user", "attempts", "error"]
    list_filter = ["outcome", "action", "controller_kind", "door"]
    search_fields = ["door_name", "reason", "error", "target"]
    ordering = ["-requested_at"]
    list_select_related = ["user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
