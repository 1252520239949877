from django.contrib import admin
from django.http import HttpRequest

from .models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow


class AllowEntryInline(admin.TabularInline):
    model = AllowEntry
    fields = ["door", "door_group", "valid_from", "valid_until", "note"]
    extra = 0
    show_change_link = True


class BlockEntryInline(admin.TabularInline):
    model = BlockEntry
    fields = ["reason", "added_at", "expires_at", "added_by"]
    readonly_fields = ["added_by"]
    extra = 0


class MissingEntryInline(admin.TabularInline):
    model = MissingEntry
    fields = ["case_number", "reporting_contact", "reported_at", "closed_at"]
    extra = 0
    show_change_link = True


class ScheduleWindowInline(admin.TabularInline):
    model = ScheduleWindow
    extra = 0


@admin.register(AllowEntry)
class AllowEntryAdmin(admin.ModelAdmin):
    list_display = ["person", "door", "door_group", "valid_from", "valid_until"]
    list_filter = ["door", "door_group", "valid_from", "valid_until"]
    search_fields = ["person__name", "person__external_id", "note"]
    ordering = ["person__name", "-valid_from"]
    autocomplete_fields = ["person"]
    inlines = [ScheduleWindowInline]


@admin.register(BlockEntry)
class BlockEntryAdmin(admin.ModelAdmin):
    list_display = ["person", "reason", "added_by", "added_at", "expires_at"]
    list_filter = ["added_at", "expires_at"]
    search_fields = ["person__name", "person__external_id", "reason"]
    ordering = ["-added_at"]
    autocomplete_fields = ["person"]
    readonly_fields = ["added_by"]

    def save_model(self, request: HttpRequest, obj: BlockEntry, form, change: bool) -> None:
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(MissingEntry)
class MissingEntryAdmin(admin.ModelAdmin):
    list_display = ["person", "case_number", "reported_at", "closed_at"]
    list_filter = ["reported_at", "closed_at"]
    search_fields = ["person__name", "person__external_id", "case_number", "reporting_contact"]
    ordering = ["-reported_at"]
    autocomplete_fields = ["person"]
