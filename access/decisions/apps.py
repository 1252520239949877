from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "access.decisions"
    label = "decisions"
    verbose_name = "Decisions"
