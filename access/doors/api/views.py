from rest_framework import viewsets

from ..filtersets import DoorFilterSet, DoorGroupFilterSet
from ..models import Door, DoorGroup
from .serializers import DoorGroupSerializer, DoorSerializer


class DoorViewSet(viewsets.ModelViewSet):
    queryset = Door.objects.all()
    serializer_class = DoorSerializer
    filterset_class = DoorFilterSet


class DoorGroupViewSet(viewsets.ModelViewSet):
    queryset = DoorGroup.objects.prefetch_related("doors")
    serializer_class = DoorGroupSerializer
    filterset_class = DoorGroupFilterSet
