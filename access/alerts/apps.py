from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "access.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
