from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    name = "access.watchlists"
    label = "watchlists"
    verbose_name = "Watchlists"
