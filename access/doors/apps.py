from django.apps import AppConfig


class DoorsConfig(AppConfig):
    name = "access.doors"
    label = "doors"
    verbose_name = "Doors"
