from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import AuditContext, current_context
from .models import AuditLog

# The dashboard is the administrators' web interface, as Django's admin is: its changes count as admin ones
# (a source of its own would need a migration of the audit log's choices).
AUDITED_PATHS = {
    "/api/": AuditLog.Source.API,
    "/admin/": AuditLog.Source.ADMIN,
    "/dashboard/": AuditLog.Source.ADMIN,
}


class AuditContextMiddleware:
    """Opens an audit context for API and admin requests, so the model signals know who changed what."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = next(
            (src for prefix, src in AUDITED_PATHS.items() if request.path_info.startswith(prefix)), None
        )
        if source is None:
            return self.get_response(request)
        token = current_context.set(AuditContext(request=request, source=source))
        try:
            return self.get_response(request)
        finally:
            current_context.reset(token)
