from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from .views import feed

app_name = "dashboard"

urlpatterns = [
    path("", feed.FeedView.as_view(), name="feed"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html",
            redirect_authenticated_user=True,
            next_page=reverse_lazy("dashboard:feed"),
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("dashboard:login")), name="logout"),
    # Fragments the live feed fetches for each streamed change, so rows have one template, not a JS copy.
    path("events/<int:pk>/row/", feed.EventRowView.as_view(), name="event-row"),
    path("alerts/<int:pk>/banner/", feed.AlertBannerView.as_view(), name="alert-banner"),
]
