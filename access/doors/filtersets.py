import django_filters

from .models import Door, DoorCommand, DoorGroup


class DoorFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    group = django_filters.ModelChoiceFilter(field_name="groups", queryset=DoorGroup.objects.all())

    class Meta:
        model = Door
        fields = ["name", "controller_kind", "fail_mode", "group"]


class DoorGroupFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = DoorGroup
        fields = ["name", "doors"]


class DoorCommandFilterSet(django_filters.FilterSet):
    requested_after = django_filters.IsoDateTimeFilter(field_name="requested_at", lookup_expr="gte")
    requested_before = django_filters.IsoDateTimeFilter(field_name="requested_at", lookup_expr="lt")

    class Meta:
        model = DoorCommand
        fields = ["door", "action", "outcome", "event", "user"]
