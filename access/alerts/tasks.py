"""Celery tasks of the alerts app: thin wrappers around access.alerts.delivery."""

from celery import shared_task
from django.conf import settings

from . import delivery


@shared_task(bind=True, acks_late=True, max_retries=settings.FACEGATE_ALERT_DELIVERY_RETRIES)
def deliver_alert(self, alert_id: int) -> None:
    """Send a new alert to its e-mail and webhook targets; retry, backing off, while some have failed."""
    if delivery.deliver(alert_id):
        raise self.retry(countdown=delivery.retry_delay_s(self.request.retries))
