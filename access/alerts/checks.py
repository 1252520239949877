"""System checks: alert delivery is configured so that what it sends can be trusted and followed."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks


@checks.register("alerts")
def check_webhooks(app_configs, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    if settings.FACEGATE_ALERT_WEBHOOK_URLS and not settings.FACEGATE_WEBHOOK_SECRET:
        errors.append(
            checks.Error(
                "FACEGATE_ALERT_WEBHOOK_URLS is set but FACEGATE_WEBHOOK_SECRET is empty: receivers "
                "could not tell FaceGate's alerts from forged ones.",
                hint="Set FACEGATE_WEBHOOK_SECRET to a long random string shared with the receivers.",
                id="alerts.E001",
            )
        )
    for url in settings.FACEGATE_ALERT_WEBHOOK_URLS:
        if urlsplit(url).scheme not in {"http", "https"}:
            errors.append(checks.Error(f"Alert webhook {url!r} is not an http(s) URL.", id="alerts.E002"))
    if urlsplit(settings.FACEGATE_PUBLIC_URL).scheme not in {"http", "https"}:
        errors.append(
            checks.Error(
                f"FACEGATE_PUBLIC_URL {settings.FACEGATE_PUBLIC_URL!r} is not an http(s) URL; alert links "
                "(snapshot, alert) are made absolute with it.",
                id="alerts.E003",
            )
        )
    return errors
