from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "access.alerts"
    label = "alerts"
    verbose_name = "Alerts"
