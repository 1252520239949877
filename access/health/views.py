from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .checks import Probe, probe_broker, probe_database, probe_workers

_health_body = inline_serializer(
    name="Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "checks": serializers.DictField(child=serializers.ChoiceField(choices=["ok", "fail"])),
        "detail": serializers.DictField(required=False, help_text="Staff only: failures and workers."),
    },
)


# Outside ATOMIC_REQUESTS: opening that transaction would fail with a 500 before the probe could say 503.
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class HealthView(APIView):
    """Open to anyone, since load balancers poll it without credentials; only staff see the details.

    200 when the database, the broker and at least one worker answer; 503 otherwise.
    """

    permission_classes = [AllowAny]
    throttle_classes = []

    def perform_authentication(self, request: Request) -> None:
        """Authenticate lazily: tokens and sessions live in the database, which may be what is down."""

    @extend_schema(responses={200: _health_body, 503: OpenApiResponse(_health_body, "Some part is down.")})
    def get(self, request: Request) -> Response:
        probes: dict[str, Probe] = {"database": probe_database(), "broker": probe_broker()}
        probes["workers"] = probe_workers() if probes["broker"].ok else Probe(False, "broker unavailable")
        healthy = all(probe.ok for probe in probes.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: "ok" if probe.ok else "fail" for name, probe in probes.items()},
        }
        if probes["database"].ok and request.user.is_staff:
            body["detail"] = {name: probe.detail for name, probe in probes.items()}
        return Response(
            body,
            status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Cache-Control": "no-store"},
        )
