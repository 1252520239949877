from django.contrib import admin

from .models import Camera


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
