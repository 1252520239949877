from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "access.core"
    label = "core"
    verbose_name = "FaceGate core"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
