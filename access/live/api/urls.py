from django.db import transaction
from django.urls import path

from .views import LiveStreamView

urlpatterns = [
    # No transaction around a stream: each poll reads what has committed since the last.
    path("stream/", transaction.non_atomic_requests(LiveStreamView.as_view()), name="stream"),
]
