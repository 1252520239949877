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
        "detection_region",
        "rescan_interval_ms",
        "match_threshold",
        "device_account",
    ]
    list_filter = ["enabled", "door"]
    search_fields = ["name", "source_url", "door__name"]
    ordering = ["name"]
    raw_id_fields = ["device_account"]
    fieldsets = [
        (None, {"fields": ["name", "source_url", "loop", "door", "enabled", "device_account"]}),
        ("Recognition", {"fields": ["frame_rate", "min_face_size", "match_threshold"]}),
        (
            "Where faces are looked for",
            {
                "fields": [
                    ("region_left", "region_top", "region_right", "region_bottom"),
                    "rescan_interval_ms",
                ],
                "description": "The detection region, as fractions of the frame: the door's approach, where "
                "a face can be. Faces centred outside it are not looked for.",
            },
        ),
    ]

    @admin.display(description="Detection region (left, top, right, bottom)")
    def detection_region(self, camera: Camera) -> str:
        return ", ".join(f"{edge:g}" for edge in camera.detection_region)


@admin.register(CameraHealth)
class CameraHealthAdmin(admin.ModelAdmin):
    """Read-only: the camera service and the frame workers write these figures."""

    list_display = [
        "camera",
        "heartbeat_at",
        "last_frame_at",
        "last_analysed_at",
        "region_searched_at",
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
