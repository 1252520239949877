from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..filtersets import AlertFilterSet
from ..models import Alert
from .serializers import AlertSerializer, ResolveSerializer

_conflict = OpenApiResponse(description="The alert is not in a state that allows this step.")


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts raised by sightings and equipment faults; operators acknowledge and resolve them."""

    queryset = Alert.objects.all()
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    action_permissions = {"acknowledge": "change", "resolve": "change"}

    @extend_schema(request=None, responses={200: AlertSerializer, 409: _conflict})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        alert = services.acknowledge(self.get_object(), request.user)
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=ResolveSerializer, responses={200: AlertSerializer, 409: _conflict})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = services.resolve(self.get_object(), request.user, body.validated_data["note"])
        return Response(self.get_serializer(alert).data)
