from celery import shared_task

from . import services


@shared_task(acks_late=True)
def watch_doors() -> None:
    """Beat, every few seconds: apply or lift fail modes (idempotent: each outage acts once)."""
    services.watch_doors()
