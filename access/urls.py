from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health/", include("access.health.urls")),
    path("api/auth/", include("rest_framework.urls")),
    path("api/", include("access.api_router")),
    path("dashboard/", include("access.dashboard.urls")),
]
