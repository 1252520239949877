import django_filters

from .models import Camera


class CameraFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Camera
        fields = ["name", "door", "enabled"]
