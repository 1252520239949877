from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "access.cameras"
    label = "cameras"
    verbose_name = "Cameras"
