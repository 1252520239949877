"""Login and roles shared by every dashboard page: the same rights as the API (Django model permissions)."""

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.db.models import Model
from django.urls import reverse_lazy

# The same rights as the API: whoever may read events may watch the feed (viewer, operator, admin);
# acknowledging and resolving needs the alert `change` permission (operator, admin).
WATCH_PERMISSION = "events.view_event"
ACT_PERMISSION = "alerts.change_alert"


class DashboardAccess(LoginRequiredMixin, PermissionRequiredMixin):
    """Anonymous people go to the login page; signed-in accounts without the right (devices) get 403."""

    login_url = reverse_lazy("dashboard:login")
    permission_required = WATCH_PERMISSION
    section = ""  # the navigation link marked as the current page

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "can_act": self.request.user.has_perm(ACT_PERMISSION),
            "section": self.section,
        }


def model_permission(model: type[Model], action: str) -> str:
    """The Django permission to `action` ("view", "add", "change", "delete") rows of `model`."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"
