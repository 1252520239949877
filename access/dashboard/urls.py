from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from .views import audit, cameras, charts, doors, feed, people, watchlists

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
    path("people/", people.PersonListView.as_view(), name="people"),
    path("people/add/", people.PersonCreateView.as_view(), name="person-add"),
    path("people/<int:pk>/", people.PersonView.as_view(), name="person"),
    path("people/<int:pk>/edit/", people.PersonUpdateView.as_view(), name="person-edit"),
    path("people/<int:pk>/consent/", people.RecordConsentView.as_view(), name="person-consent"),
    path(
        "people/<int:pk>/consent/withdraw/",
        people.WithdrawConsentView.as_view(),
        name="person-consent-withdraw",
    ),
    path("people/<int:pk>/samples/", people.UploadSampleView.as_view(), name="person-samples"),
    path("people/<int:pk>/lists/<str:kind>/", people.AddListEntryView.as_view(), name="person-list-add"),
    path(
        "people/<int:pk>/lists/<str:kind>/<int:entry_pk>/remove/",
        people.RemoveListEntryView.as_view(),
        name="person-list-remove",
    ),
    path("samples/<int:pk>/card/", people.SampleCardView.as_view(), name="sample-card"),
    path("samples/<int:pk>/overlay.jpg", people.SampleOverlayView.as_view(), name="sample-overlay"),
    path("samples/<int:pk>/chips/<int:face>.png", people.SampleChipView.as_view(), name="sample-chip"),
    path("samples/<int:pk>/delete/", people.DeleteSampleView.as_view(), name="sample-delete"),
    path("watchlists/", watchlists.AllowListView.as_view(), name="allow-list"),
    path("watchlists/block/", watchlists.BlockListView.as_view(), name="block-list"),
    path("watchlists/missing/", watchlists.MissingListView.as_view(), name="missing-list"),
    path("watchlists/allow/<int:pk>/edit/", watchlists.AllowEntryEditView.as_view(), name="allow-edit"),
    path("watchlists/allow/<int:pk>/remove/", watchlists.RemoveAllowEntry.as_view(), name="allow-remove"),
    path("watchlists/block/<int:pk>/remove/", watchlists.RemoveBlockEntry.as_view(), name="block-remove"),
    path(
        "watchlists/missing/<int:pk>/remove/", watchlists.RemoveMissingEntry.as_view(), name="missing-remove"
    ),
    path("watchlists/missing/<int:pk>/close/", watchlists.CloseCase.as_view(), name="missing-close"),
    path("doors/", doors.DoorListView.as_view(), name="doors"),
    path("doors/<int:pk>/open/", doors.DoorOpenView.as_view(), name="door-open"),
    path("cameras/", cameras.CameraListView.as_view(), name="cameras"),
    path("charts/", charts.ChartsView.as_view(), name="charts"),
    path("audit/", audit.AuditLogView.as_view(), name="audit"),
]
