"""Health of the parts FaceGate needs to work: database, Celery broker and workers."""
