from datetime import datetime

import django_filters
from django.db.models import QuerySet

from .models import AllowEntry, BlockEntry, MissingEntry


class AllowEntryFilterSet(django_filters.FilterSet):
    in_force_at = django_filters.IsoDateTimeFilter(method="filter_in_force_at", label="In force at")

    class Meta:
        model = AllowEntry
        fields = ["person", "door", "door_group"]

    def filter_in_force_at(self, queryset: QuerySet, name: str, value: datetime) -> QuerySet:
        return queryset.in_force(value)


class BlockEntryFilterSet(django_filters.FilterSet):
    in_force_at = django_filters.IsoDateTimeFilter(method="filter_in_force_at", label="In force at")

    class Meta:
        model = BlockEntry
        fields = ["person", "added_by"]

    def filter_in_force_at(self, queryset: QuerySet, name: str, value: datetime) -> QuerySet:
        return queryset.in_force(value)


class MissingEntryFilterSet(django_filters.FilterSet):
    open_at = django_filters.IsoDateTimeFilter(method="filter_open_at", label="Case open at")

    class Meta:
        model = MissingEntry
        fields = ["person", "case_number"]

    def filter_open_at(self, queryset: QuerySet, name: str, value: datetime) -> QuerySet:
        return queryset.open_at(value)
