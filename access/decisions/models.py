from django.db import models

from access.cameras.models import Camera


class Track(models.Model):
    """One face followed across the frames of one camera, so that a person passing is decided once.

    Kept in the database, not in a worker's memory: the next frame of the camera may go to any worker on any
    host. Workers change a camera's tracks only while holding that camera's row lock.
    """

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="tracks")
    box = models.JSONField(help_text="The face's latest box: x1, y1, x2, y2 in frame pixels.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    observations = models.JSONField(
        default=list,
        help_text="The latest frames the face was seen in, oldest first: frame id, Unix time, matched "
        "person (null: nobody enrolled) and distance.",
    )
    decided = models.JSONField(
        default=list, help_text="Who this track has been decided for already: 'person-<id>' or 'unknown'."
    )

    class Meta:
        ordering = ["camera", "-last_seen_at"]

    def __str__(self) -> str:
        return f"track {self.pk} at {self.camera}"
