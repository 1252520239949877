from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from access.watchlists.admin import AllowEntryInline, BlockEntryInline, MissingEntryInline

from . import services
from .models import Consent, FaceSample, Person


def _image_link(sample: FaceSample) -> str:
    return format_html(
        '<a href="{}" target="_blank">view photo</a>', reverse("api:facesample-image", args=[sample.pk])
    )


class ConsentInline(admin.StackedInline):
    model = Consent
    fields = ["given_at", "method", "document_reference", "recorded_by"]
    readonly_fields = ["recorded_by"]
    # Withdrawing consent erases the person's photos, so it goes through the Consent admin's delete.
    can_delete = False


class FaceSampleInline(admin.TabularInline):
    model = FaceSample
    fields = ["photo", "state", "rejection_reason", "model_version", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    @admin.display(description="photo")
    def photo(self, sample: FaceSample) -> str:
        return _image_link(sample)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "status", "has_consent", "created_at"]
    list_filter = ["status", "consent__method"]
    search_fields = ["name", "external_id"]
    ordering = ["name"]
    inlines = [ConsentInline, FaceSampleInline, AllowEntryInline, BlockEntryInline, MissingEntryInline]

    @admin.display(boolean=True, description="consent")
    def has_consent(self, person: Person) -> bool:
        return hasattr(person, "consent")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("consent")

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        # What an inline adds (a consent, a block) is attributed to the admin user who saved it.
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            deleted.delete()
        for instance in instances:
            for attribution in ("recorded_by", "added_by"):
                if hasattr(instance, attribution) and getattr(instance, f"{attribution}_id") is None:
                    setattr(instance, attribution, request.user)
            instance.save()
        formset.save_m2m()


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["person", "method", "given_at", "recorded_by"]
    list_filter = ["method", "given_at"]
    search_fields = ["person__name", "person__external_id", "document_reference"]
    ordering = ["-given_at"]
    autocomplete_fields = ["person"]
    readonly_fields = ["recorded_by"]

    def save_model(self, request: HttpRequest, obj: Consent, form, change: bool) -> None:
        if obj.recorded_by_id is None:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Consent) -> None:
        services.withdraw_consent(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for consent in queryset:
            services.withdraw_consent(consent)


@admin.register(FaceSample)
class FaceSampleAdmin(admin.ModelAdmin):
    """Photos arrive through the API upload, which validates and encrypts them; here they are reviewed."""

    list_display = ["id", "person", "state", "model_version", "width", "height", "created_at"]
    list_filter = ["state", "model_version", "created_at"]
    search_fields = ["person__name", "person__external_id"]
    ordering = ["-created_at"]
    fields = [
        "person",
        "photo",
        "state",
        "rejection_reason",
        "quality",
        "model_version",
        "width",
        "height",
        "uploaded_by",
        "created_at",
        "enrolled_at",
    ]
    readonly_fields = fields

    @admin.display(description="photo")
    def photo(self, sample: FaceSample) -> str:
        return _image_link(sample)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
