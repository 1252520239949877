from django.db import models, transaction


def delete_stored_files(sender, instance: models.Model, **kwargs) -> None:
    """A deleted row takes its stored files with it, however it was deleted (cascades included).

    The files go only once the deletion commits, so a rolled-back delete loses nothing.
    """
    for field in instance._meta.concrete_fields:
        if isinstance(field, models.FileField):
            file = getattr(instance, field.attname)
            if file:
                storage, name = file.storage, file.name
                transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
