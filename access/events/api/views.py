from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request

from access.core.api.responses import decrypted_file_response

from ..filtersets import EventFilterSet
from ..models import Event
from .serializers import EventSerializer


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """Access decisions, newest first. Only the recognition pipeline writes them."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    filterset_class = EventFilterSet

    @extend_schema(responses={(200, "image/*"): OpenApiResponse(description="The snapshot, decrypted.")})
    @action(detail=True, methods=["get"])
    def snapshot(self, request: Request, pk: str):
        return decrypted_file_response(self.get_object().snapshot)
