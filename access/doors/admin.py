from django.contrib import admin

from .models import Door, DoorGroup


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
    ]
    list_filter = ["controller_kind", "fail_mode", "groups"]
    search_fields = ["name", "location", "mqtt_topic", "http_url"]
    ordering = ["name"]


@admin.register(DoorGroup)
class DoorGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description", "doors__name"]
    ordering = ["name"]
    filter_horizontal = ["doors"]
