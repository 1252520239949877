from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "access.events"
    label = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from access.core.signals import delete_stored_files

        from .models import Event

        post_delete.connect(delete_stored_files, sender=Event, dispatch_uid="events.delete_event_snapshot")
