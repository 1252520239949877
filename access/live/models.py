from django.db import models


class Change(models.Model):
    """One entry of the change log the live stream reads: an event written, an alert raised or moved on.

    Its id is the stream's cursor (the SSE `id:`). Ids are handed out in commit order (see
    access.live.changes), so a reader that has seen id N has seen everything committed before it.
    """

    class Topic(models.TextChoices):
        EVENT = "event", "Event"
        ALERT = "alert", "Alert"

    topic = models.CharField(max_length=8, choices=Topic)
    object_id = models.BigIntegerField()
    action = models.CharField(
        max_length=16, help_text='"created", or the state an alert moved to ("acknowledged", "resolved").'
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(topic__in=["event", "alert"]), name="live_change_topic")
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.object_id} {self.action}"
