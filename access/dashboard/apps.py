from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "access.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
