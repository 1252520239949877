from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "access.live"
    label = "live"
    verbose_name = "Live stream"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from access.alerts.models import Alert
        from access.events.models import Event

        from .changes import record_alert_change, record_new_event

        post_save.connect(record_new_event, sender=Event, dispatch_uid="live.record_new_event")
        post_save.connect(record_alert_change, sender=Alert, dispatch_uid="live.record_alert_change")
