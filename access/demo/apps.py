from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "access.demo"
    verbose_name = "Demo"
