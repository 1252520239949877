"""The REST API under /api/: every app's routes, token login, the OpenAPI schema and its docs."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

app_name = "api"


def _docs_page(view_class: type) -> object:
    # People reach the docs in a browser: send them to the login page rather than answering 401.
    return login_required(view_class.as_view(url_name="api:schema"), login_url="admin:login")


urlpatterns = [
    path("", include("access.people.api.urls")),
    path("", include("access.watchlists.api.urls")),
    path("", include("access.doors.api.urls")),
    path("", include("access.cameras.api.urls")),
    path("", include("access.events.api.urls")),
    path("", include("access.alerts.api.urls")),
    path("", include("access.live.api.urls")),
    path("", include("access.audit.api.urls")),
    path("auth/token/", obtain_auth_token, name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", _docs_page(SpectacularSwaggerView), name="docs"),
    path("docs/redoc/", _docs_page(SpectacularRedocView), name="redoc"),
]
