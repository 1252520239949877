import json
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from access.events.models import Event

from .. import stream
from ..models import Change


class EventStreamRenderer(BaseRenderer):
    """Lets a client that accepts only text/event-stream (a browser's EventSource) past content negotiation;
    an error reaches it as JSON text."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None) -> bytes:
        return json.dumps(data).encode()


class StreamsFull(APIException):
    status_code = 503
    default_detail = "This server holds as many live streams as it may; retry shortly."
    default_code = "streams_full"
    wait = 5  # sent as Retry-After


class LiveStreamView(APIView):
    """Every new event and every alert raised, acknowledged or resolved, as server-sent events."""

    queryset = Event.objects.none()  # whoever may read events may watch them live
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Last-Event-ID", OpenApiTypes.INT, OpenApiParameter.HEADER,
                description="Resume after this message id (browsers send it when they reconnect).",
            ),
            OpenApiParameter(
                "last_event_id", OpenApiTypes.INT, description="The same, for clients without headers."
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                description="`event: event` and `event: alert` messages with JSON data; `id:` is the cursor."
            ),
            503: OpenApiResponse(description="The process holds its FACEGATE_STREAM_MAX_CLIENTS streams."),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        # A soft cap: streams must leave threads free for the rest of the API.
        if stream.open_streams() >= settings.FACEGATE_STREAM_MAX_CLIENTS:
            raise StreamsFull()
        after = _cursor(request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id"))
        topics = [Change.Topic.EVENT]
        if request.user.has_perm("alerts.view_alert"):  # as through the alerts API
            topics.append(Change.Topic.ALERT)
        response = StreamingHttpResponse(
            stream.messages(after, request.build_absolute_uri, stream.StreamTiming.from_settings(), topics),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold messages back
        return response


def _cursor(given: str | None) -> int:
    if given is None or given == "":
        return stream.latest_change_id()
    if not given.isdigit():
        raise ValidationError({"Last-Event-ID": f"Expected a message id (a whole number), got {given!r}."})
    return int(given)
