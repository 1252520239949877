import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from access.core.errors import Conflict
from access.core.fields import EncryptedBinaryField
from access.core.storage import encrypted_storage

FACE_CODE_SIZE = 128


class ConsentRequired(Conflict):
    """A face code was about to be stored for someone who has not consented."""


class Person(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    external_id = models.CharField(
        "external ID", max_length=64, unique=True, help_text="Badge or employee number; unique."
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "external_id"]
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended"]), name="person_status_valid"
            ),
            models.CheckConstraint(condition=~Q(external_id=""), name="person_external_id_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def has_consent(self) -> bool:
        return Consent.objects.filter(person_id=self.pk).exists()


class Consent(models.Model):
    """The person's consent to biometric processing; without it no face code may be stored."""

    class Method(models.TextChoices):
        SIGNED_FORM = "signed_form", "Signed paper form"
        ELECTRONIC = "electronic", "Electronic signature"
        VERBAL_WITNESSED = "verbal_witnessed", "Verbal, witnessed"

    person = models.OneToOneField(Person, on_delete=models.CASCADE, primary_key=True, related_name="consent")
    given_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=32, choices=Method)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    document_reference = models.CharField(
        max_length=200, blank=True, help_text="Where the signed form or record is kept."
    )

    class Meta:
        ordering = ["-given_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(method__in=["signed_form", "electronic", "verbal_witnessed"]),
                name="consent_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent of {self.person} ({self.get_method_display()}, {self.given_at:%Y-%m-%d})"


class FaceSample(models.Model):
    """One enrollment photo of a person and, once enrolled, the face code computed from it."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ENROLLED = "enrolled", "Enrolled"
        REJECTED = "rejected", "Rejected"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="samples")
    image = models.FileField(upload_to="samples/", storage=encrypted_storage, editable=False)
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    content_sha256 = models.CharField(
        "content SHA-256",
        max_length=64,
        blank=True,
        editable=False,
        help_text="SHA-256 of the photo as uploaded; one person holds one sample per photo.",
    )
    state = models.CharField(max_length=16, choices=State, default=State.PENDING)
    rejection_reason = models.CharField(max_length=300, blank=True)
    quality = models.JSONField(default=dict, blank=True, help_text="Figures the engine measured on the face.")
    overlay = models.FileField(
        upload_to="overlays/",
        storage=encrypted_storage,
        blank=True,
        editable=False,
        help_text="What the pipeline saw on the photo: boxes, keypoints, parsing and chips.",
    )
    face_code_data = EncryptedBinaryField(null=True, blank=True, editable=False)
    model_version = models.CharField(
        max_length=100, blank=True, help_text="The model that made the face code."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["pending", "enrolled", "rejected"]), name="facesample_state_valid"
            ),
            models.UniqueConstraint(
                fields=["person", "content_sha256"],
                condition=~Q(content_sha256=""),
                name="facesample_one_per_photo_and_person",
                violation_error_message="This photo is already stored for this person.",
            ),
            models.CheckConstraint(
                condition=~Q(state="rejected") | ~Q(rejection_reason=""),
                name="facesample_rejected_has_reason",
                violation_error_message="A rejected sample needs a rejection reason.",
            ),
            models.CheckConstraint(
                condition=~Q(state="enrolled") | (Q(face_code_data__isnull=False) & ~Q(model_version="")),
                name="facesample_enrolled_has_code",
                violation_error_message="An enrolled sample needs a face code and the model version.",
            ),
            models.CheckConstraint(
                condition=Q(face_code_data__isnull=True) | ~Q(model_version=""),
                name="facesample_code_has_model_version",
                violation_error_message="A face code needs the version of the model that made it.",
            ),
        ]

    def __str__(self) -> str:
        return f"Sample {self.pk} of {self.person} ({self.state})"

    def save(self, *args, **kwargs) -> None:
        # The last line of defence: every path that stores a face code passes here.
        if self.face_code_data is not None and not Consent.objects.filter(person_id=self.person_id).exists():
            raise ConsentRequired(f"{self.person} has not consented; no face code may be stored.")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.face_code_data is not None and not self.person.has_consent:
            raise ValidationError("No face code may be stored for a person who has not consented.")

    @property
    def face_code(self) -> np.ndarray | None:
        """The 128 float32 face code, decrypted; None until the sample is enrolled."""
        if self.face_code_data is None:
            return None
        return np.frombuffer(self.face_code_data, dtype="<f4").copy()

    @face_code.setter
    def face_code(self, code: np.ndarray | None) -> None:
        if code is None:
            self.face_code_data = None
            return
        code = np.asarray(code, dtype="<f4")
        if code.shape != (FACE_CODE_SIZE,) or not np.isfinite(code).all():
            raise ValueError(f"a face code is {FACE_CODE_SIZE} finite float32 values, got shape {code.shape}")
        self.face_code_data = code.tobytes()


class GalleryHead(models.Model):
    """The version of what the workers' galleries should hold: one row, bumped by every change.

    Writers bump it under the row lock and keep the lock until they commit, so versions become visible in
    commit order: a reader that sees version N sees every change up to N. An autoincrement id would not do
    that on PostgreSQL, where transactions commit out of id order.

    The row starts at the microsecond it is made, with nothing known before it, so the versions of two
    databases (a flushed one and its successor, a test database and the real one) never coincide: a gallery
    built from the other one is rebuilt, not patched.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    version = models.BigIntegerField()
    pruned_through = models.BigIntegerField(help_text="Changes up to this version are forgotten.")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="galleryhead_singleton")]

    def __str__(self) -> str:
        return f"Gallery version {self.version}"


class GalleryChange(models.Model):
    """A sample whose place in the gallery changed at `version`.

    No foreign keys, so the record of a removal outlives the sample and person it names; no face code, which
    stays encrypted on the FaceSample row.
    """

    class Op(models.TextChoices):
        ADD = "add", "Add"
        REMOVE = "remove", "Remove"

    version = models.BigIntegerField(db_index=True)
    sample_id = models.BigIntegerField()
    person_id = models.BigIntegerField()
    op = models.CharField(max_length=8, choices=Op)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version"]
        constraints = [
            models.CheckConstraint(condition=Q(op__in=["add", "remove"]), name="gallerychange_op_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.op} sample {self.sample_id} at version {self.version}"
