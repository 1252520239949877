from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "access.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from access.core.signals import delete_stored_files

        from .models import FaceSample

        post_delete.connect(delete_stored_files, sender=FaceSample, dispatch_uid="people.delete_sample_image")
