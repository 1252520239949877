from django.contrib import admin

from .models import Camera, CameraHealth


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "door",
        "enabled",
        "frame_rate",
        "min_face_size",
        "match_threshold",
        "device_account",
    ]
    list_filter = ["enabled", "door"]
    search_fields = ["name", "source_url", "door__name"]
    ordering = ["name"]
    raw_id_fields = ["device_account"]


@admin.register(CameraHealth)
class CameraHealthAdmin(admin.ModelAdmin):
    """Read-only: the camera service and the frame workers write these figures."""

    list_display = [
        "camera",
        "heartbeat_at",
        "last_frame_at",
        "last_analysed_at",
        "frames_per_second",
        "frames_read",
        "frames_sent",
        "frames_dropped",
        "frames_stale",
        "frames_corrupt",
        "reconnects",
    ]
    ordering = ["camera__name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
