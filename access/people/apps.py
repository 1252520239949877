from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "access.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from access.core.signals import delete_stored_files

        from . import checks  # noqa: F401  (registers the system checks)
        from .gallery import record_sample_deleted, record_sample_saved
        from .models import FaceSample

        post_delete.connect(delete_stored_files, sender=FaceSample, dispatch_uid="people.delete_sample_image")
        post_save.connect(record_sample_saved, sender=FaceSample, dispatch_uid="people.gallery_sample_saved")
        post_delete.connect(
            record_sample_deleted, sender=FaceSample, dispatch_uid="people.gallery_sample_deleted"
        )
