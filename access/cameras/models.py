from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from access.doors.models import Door

from .sources import SourceKind, parse_source, validate_source_url

# Face codes are unit vectors, so the distance between two of them lies in [0, 2].
MAX_MATCH_THRESHOLD = 2.0
MAX_FRAME_RATE = 60.0


class Camera(models.Model):
    name = models.CharField(max_length=100, unique=True)
    source_url = models.CharField(
        "source URL",
        max_length=500,
        validators=[validate_source_url],
        help_text=(
            "Where the frames come from: rtsp(s)://host/path, http(s)://host/path (MJPEG), a video file "
            "(file:///abs/path.mp4 or /abs/path.mp4) or a local device (device://0)."
        ),
    )
    loop = models.BooleanField(
        default=False,
        help_text="Video files only: play again from the start at the end (demo clips), instead of stopping.",
    )
    door = models.ForeignKey(
        Door,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cameras",
        help_text="The door this camera guards.",
    )
    enabled = models.BooleanField(default=True)
    frame_rate = models.FloatField(default=5.0, help_text="Frames per second to analyse.")
    min_face_size = models.PositiveSmallIntegerField(
        default=80, help_text="Smallest face to consider, in pixels."
    )
    region_left = models.FloatField(
        default=0.0, help_text="Detection region: its left edge, as a fraction of the frame's width (0 to 1)."
    )
    region_top = models.FloatField(
        default=0.0, help_text="Detection region: its top edge, as a fraction of the frame's height (0 to 1)."
    )
    region_right = models.FloatField(
        default=1.0,
        help_text="Detection region: its right edge, as a fraction of the frame's width (0 to 1).",
    )
    region_bottom = models.FloatField(
        default=1.0,
        help_text="Detection region: its bottom edge, as a fraction of the frame's height (0 to 1). Only "
        "faces centred in the region are looked for: the door's approach (default: the whole frame).",
    )
    rescan_interval_ms = models.PositiveIntegerField(
        default=500,
        help_text=(
            "While faces are followed, the next frames are searched only around them, and the whole "
            "detection region at least this often (milliseconds of frame time) and whenever no face is "
            "followed, so a newcomer waits at most this long. 0: search the whole region in every frame."
        ),
    )
    match_threshold = models.FloatField(
        null=True,
        blank=True,
        help_text=(
            "Largest raw face-code distance that counts as a match at this camera, obeyed as it is. Empty: "
            "cohort-normalised scores against FACEGATE_COHORT_THRESHOLD while an impostor cohort is "
            "installed (manage.py build_cohort; more enrolled faces accepted at the same false-accept rate), "
            "else raw distance against FACEGATE_MATCH_THRESHOLD."
        ),
    )
    device_account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="camera",
        help_text="The device account whose token may post frames for this camera.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(frame_rate__gt=0) & Q(frame_rate__lte=MAX_FRAME_RATE),
                name="camera_frame_rate_range",
                violation_error_message=f"The frame rate must be above 0 and at most {MAX_FRAME_RATE:g}.",
            ),
            models.CheckConstraint(
                condition=Q(min_face_size__gt=0),
                name="camera_min_face_size_positive",
                violation_error_message="The minimum face size must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(region_left__gte=0)
                & Q(region_top__gte=0)
                & Q(region_right__lte=1)
                & Q(region_bottom__lte=1)
                & Q(region_left__lt=F("region_right"))
                & Q(region_top__lt=F("region_bottom")),
                name="camera_detection_region_in_frame",
                violation_error_message=(
                    "The detection region must lie within the frame (0 to 1), left of its right edge and "
                    "above its bottom edge."
                ),
            ),
            models.CheckConstraint(
                condition=Q(match_threshold__isnull=True)
                | (Q(match_threshold__gt=0) & Q(match_threshold__lte=MAX_MATCH_THRESHOLD)),
                name="camera_match_threshold_range",
                violation_error_message=f"The match threshold must be in (0, {MAX_MATCH_THRESHOLD:g}].",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.loop:
            return
        try:
            kind = parse_source(self.source_url).kind
        except ValidationError:
            return  # the source_url field reports its own error
        if kind is not SourceKind.FILE:
            raise ValidationError({"loop": "Only a video file can loop; a stream or a device plays live."})

    @property
    def detection_region(self) -> tuple[float, float, float, float]:
        """Left, top, right, bottom as fractions of the frame."""
        return (self.region_left, self.region_top, self.region_right, self.region_bottom)

    @property
    def effective_match_threshold(self) -> float:
        """The raw-distance threshold; a camera without its own uses the cohort while one is installed."""
        if self.match_threshold is None:
            return settings.FACEGATE_MATCH_THRESHOLD
        return self.match_threshold


class CameraHealth(models.Model):
    """What the camera service and the frame workers have done with one camera's frames; one row per camera.

    The counters only grow (F() increments from many processes); the times say how fresh each stage is.
    """

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, primary_key=True, related_name="health")
    frames_read = models.PositiveBigIntegerField(default=0, help_text="Frames read from the source.")
    frames_sent = models.PositiveBigIntegerField(default=0, help_text="Frames handed to the frame workers.")
    frames_dropped = models.PositiveBigIntegerField(
        default=0, help_text="Frames dropped by the camera service because the workers were behind."
    )
    frames_stale = models.PositiveBigIntegerField(
        default=0, help_text="Frames a worker dropped because they were too old when it picked them up."
    )
    frames_corrupt = models.PositiveBigIntegerField(
        default=0, help_text="Corrupt, empty or oversized frames, skipped."
    )
    frames_analysed = models.PositiveBigIntegerField(default=0, help_text="Frames a worker analysed.")
    reconnects = models.PositiveBigIntegerField(default=0, help_text="Times the stream was opened again.")
    frames_per_second = models.FloatField(
        default=0.0, help_text="Frames read per second over the camera service's last heartbeat interval."
    )
    last_frame_at = models.DateTimeField(null=True, blank=True, help_text="When a frame was last read.")
    last_analysed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a frame was last analysed."
    )
    region_searched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Capture time of the last frame searched over the whole detection region.",
    )
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the camera service last said it is alive and reading (at least every 2 s).",
    )

    class Meta:
        verbose_name_plural = "camera health"

    def __str__(self) -> str:
        return f"health of {self.camera}"
