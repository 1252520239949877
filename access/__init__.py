"""FaceGate's Django project: the access-control domain, its API and dashboard."""

from .celery import app as celery_app

__all__ = ["celery_app"]
