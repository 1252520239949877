"""Bulk enrollment: a folder tree or a zip archive with one folder per person, named after them.

Each photo becomes a FaceSample through the same path as an upload (`services.store_sample`), so it passes the
same quality and conflict checks; a photo already stored for its person is not stored again, which makes a
run safe to repeat after an interruption.
"""

import hashlib
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from access.core.images import DecodedImage, check_upload_size, decode_image
from access.doors.models import Door
from access.watchlists.models import AllowEntry

from .models import Consent, FaceSample, Person
from .services import store_sample

EXTERNAL_ID_SLUG_LENGTH = 48  # leaves room for "-" and the digest within Person.external_id's 64
EXTERNAL_ID_DIGEST_LENGTH = 8
# Written by the operating system beside the photos, never by a person: skipped without a word.
OS_METADATA_FOLDERS = {"__MACOSX"}
NOT_IN_PERSON_FOLDER = "not inside a person folder (PERSON/photo.jpg)"
REFUSED = "refused"  # the state of a file that never became a sample


def person_name(folder: str) -> str:
    """The person's name from their folder's: "Abdullah_Gul" -> "Abdullah Gul"."""
    return " ".join(folder.replace("_", " ").split())


def external_id_for(folder: str) -> str:
    """The external ID of a person known only by their folder: the same folder gives the same person on
    every run; the digest keeps apart folders that slugify alike ("Anne-Marie", "Anne Marie")."""
    slug = slugify(folder, allow_unicode=True)[:EXTERNAL_ID_SLUG_LENGTH] or "person"
    return f"{slug}-{hashlib.sha256(folder.encode()).hexdigest()[:EXTERNAL_ID_DIGEST_LENGTH]}"


@dataclass(frozen=True)
class EnrollmentTerms:
    """What the operator states for every person of one bulk enrollment."""

    consent_method: Consent.Method
    document_reference: str = ""
    doors: Sequence[Door] = ()
    recorded_by: AbstractBaseUser | None = None


def people_for(
    folders: Iterable[str], terms: EnrollmentTerms, external_ids: Mapping[str, str] | None = None
) -> dict[str, tuple[Person, bool]]:
    """Each folder's person, and whether they were made now (see `person_for_folder`)."""
    external_ids = external_ids or {}
    return {folder: person_for_folder(folder, terms, external_ids.get(folder, "")) for folder in folders}


@transaction.atomic
def person_for_folder(folder: str, terms: EnrollmentTerms, external_id: str = "") -> tuple[Person, bool]:
    """The person a folder stands for (made when new) with consent recorded and an allow entry in force for
    each door of `terms`; and whether the person was made now. An existing consent record is kept."""
    person, created = Person.objects.get_or_create(
        external_id=external_id or external_id_for(folder), defaults={"name": person_name(folder)}
    )
    Consent.objects.get_or_create(
        person=person,
        defaults={
            "method": terms.consent_method,
            "document_reference": terms.document_reference,
            "recorded_by": terms.recorded_by,
        },
    )
    now = timezone.now()
    for door in terms.doors:
        if not AllowEntry.objects.in_force(now).filter(person=person, door=door).exists():
            AllowEntry.objects.create(person=person, door=door, note="bulk enrollment")
    return person, created


@dataclass(frozen=True)
class PhotoOutcome:
    """What became of one file: a sample (new or stored by an earlier run), or why it was refused."""

    folder: str
    file: str
    sample: FaceSample | None = None
    stored_now: bool = False
    decided_earlier: bool = False  # an earlier run stored and enrolled or rejected it
    refusal: str = ""

    @property
    def already_stored(self) -> bool:
        return self.sample is not None and not self.stored_now

    @property
    def state(self) -> str:
        return REFUSED if self.sample is None else self.sample.state

    @property
    def reason(self) -> str:
        return self.refusal or (self.sample.rejection_reason if self.sample else "")


def enroll_photo(
    person: Person,
    folder: str,
    file: str,
    image: DecodedImage,
    uploaded_by: AbstractBaseUser | None = None,
    enroll_now: Callable[[int], object] | None = None,
) -> PhotoOutcome:
    """Store one photo for `person`. With `enroll_now` (the enrollment task's body) a pending sample is
    enrolled here and now, one stored but left pending by an interrupted run included; without it the new
    sample is queued to the enrollment workers once the transaction commits."""
    sample, stored_now = store_sample(person, image, uploaded_by, enqueue=enroll_now is None)
    decided_earlier = sample.state != FaceSample.State.PENDING
    if enroll_now is not None and not decided_earlier:
        enroll_now(sample.pk)
        sample.refresh_from_db()
    return PhotoOutcome(folder, file, sample, stored_now, decided_earlier)


# --- a folder tree ---


@dataclass(frozen=True)
class FolderFile:
    folder: str  # the person's folder; "" for a file outside any
    path: Path

    @property
    def name(self) -> str:
        return self.path.name if not self.folder else f"{self.folder}/{self.path.name}"


def folder_files(root: Path) -> Iterator[FolderFile]:
    """Every file of `root`'s person folders, in name order; a file beside them has no folder. Hidden files
    are skipped."""
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            for path in sorted(entry.iterdir()):
                if not path.name.startswith("."):
                    yield FolderFile(entry.name, path)
        else:
            yield FolderFile("", entry)


def read_photo(path: Path) -> DecodedImage:
    """A photo file decoded and checked as an upload is; a ValidationError says what is wrong with it."""
    if not path.is_file():
        raise ValidationError("not a photo file (a folder inside a person folder is not read)")
    check_upload_size(path.stat().st_size)
    return decode_image(path.read_bytes())


def enroll_files(
    files: Iterable[FolderFile],
    people: Mapping[str, tuple[Person, bool]],
    enroll_now: Callable[[int], object] | None,
    uploaded_by: AbstractBaseUser | None = None,
) -> Iterator[PhotoOutcome]:
    """Each file's outcome as soon as it is decided: each photo is committed on its own, so an interrupted
    run keeps what it did and the next run picks up where it stopped."""
    for file in files:
        if not file.folder:
            yield PhotoOutcome("", file.name, refusal=NOT_IN_PERSON_FOLDER)
            continue
        try:
            image = read_photo(file.path)
        except ValidationError as exc:
            yield PhotoOutcome(file.folder, file.name, refusal=" ".join(exc.messages))
            continue
        person = people[file.folder][0]
        yield enroll_photo(person, file.folder, file.name, image, uploaded_by, enroll_now)


# --- a zip archive ---


@dataclass(frozen=True)
class ArchivePhoto:
    """One file of an archive: its person folder, its name in the archive, and the photo or why not."""

    folder: str
    file: str
    image: DecodedImage | None = None
    refusal: str = ""


def read_archive(upload: IO[bytes], size: int) -> list[ArchivePhoto]:
    """Every photo of a zip archive of person folders, decoded; or a ValidationError when the archive as a
    whole cannot be trusted (not a zip, corrupt, unsafe paths, too many or too large members), so nothing
    of it is stored. A file that is merely not a usable photo is refused on its own, with the reason."""
    if size > settings.FACEGATE_MAX_ZIP_BYTES:
        raise ValidationError(
            f"The archive is {size} bytes; the limit is {settings.FACEGATE_MAX_ZIP_BYTES} bytes.",
            code="too_large",
        )
    if not zipfile.is_zipfile(upload):
        raise ValidationError("The file is not a zip archive.", code="not_a_zip")
    try:
        with zipfile.ZipFile(upload) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            _check_members(members)
            root = _common_root(members)
            photos, unpacked = [], 0
            for info in members:
                if _is_os_metadata(info):
                    continue
                photo, size = _read_member(archive, info, root)
                unpacked += size
                if unpacked > settings.FACEGATE_MAX_ZIP_BYTES:
                    raise ValidationError(
                        f"The archive holds more than {settings.FACEGATE_MAX_ZIP_BYTES} bytes once unpacked.",
                        code="too_large",
                    )
                photos.append(photo)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        # A bad CRC is a BadZipFile, a broken deflate stream a zlib.error, an unknown method NotImplemented.
        raise ValidationError(f"The zip archive is corrupt ({exc}).", code="corrupt") from exc
    if not photos:
        raise ValidationError("The archive holds no files.", code="empty")
    return photos


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    limit = settings.FACEGATE_MAX_ZIP_MEMBERS
    if len(members) > limit:
        raise ValidationError(
            f"The archive holds {len(members)} files; the limit is {limit}.", code="too_many"
        )
    for info in members:
        path = PurePosixPath(info.filename)
        unsafe = (
            "\\" in info.filename
            or path.is_absolute()
            or ".." in path.parts
            or (path.parts and path.parts[0].endswith(":"))  # a Windows drive
            or stat.S_ISLNK(info.external_attr >> 16)
        )
        if unsafe:
            raise ValidationError(
                f"The archive member {info.filename!r} points outside the archive (absolute path, '..' or a "
                "link); such an archive is refused whole.",
                code="unsafe_path",
            )
        if info.flag_bits & 0x1:
            raise ValidationError(f"The archive member {info.filename!r} is encrypted.", code="encrypted")


def _is_os_metadata(info: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(info.filename).parts
    return parts[0] in OS_METADATA_FOLDERS or parts[-1].startswith(".")


def _common_root(members: list[zipfile.ZipInfo]) -> str:
    """The one folder every file sits in, three levels deep (ROOT/PERSON/photo.jpg), when a folder of person
    folders was zipped whole; else ""."""
    paths = [PurePosixPath(info.filename).parts for info in members if not _is_os_metadata(info)]
    roots = {parts[0] for parts in paths}
    return roots.pop() if len(roots) == 1 and all(len(parts) == 3 for parts in paths) else ""


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: str) -> tuple[ArchivePhoto, int]:
    """The member as a photo, and how many bytes were unpacked to find out."""
    parts = PurePosixPath(info.filename).parts[1 if root else 0 :]
    if len(parts) != 2:
        return ArchivePhoto("", info.filename, refusal=NOT_IN_PERSON_FOLDER), 0
    with archive.open(info) as member:
        # The sizes in the archive's directory may lie: unpack no more than one byte past the limit.
        data = member.read(settings.FACEGATE_MAX_UPLOAD_BYTES + 1)
    limit = settings.FACEGATE_MAX_UPLOAD_BYTES
    if len(data) > limit:
        return ArchivePhoto(parts[0], info.filename, refusal=f"larger than the limit of {limit} bytes"), len(
            data
        )
    try:
        image = decode_image(data)
    except ValidationError as exc:
        return ArchivePhoto(parts[0], info.filename, refusal=" ".join(exc.messages)), len(data)
    return ArchivePhoto(parts[0], info.filename, image), len(data)


def enroll_archive(
    photos: list[ArchivePhoto], terms: EnrollmentTerms
) -> tuple[list[PhotoOutcome], dict[str, tuple[Person, bool]]]:
    """Store an archive's photos as samples, queued to the enrollment workers once the whole archive is
    stored; answers each file's outcome and each folder's person (and whether it is new). All or nothing: on
    an error no person, sample or file of the archive is left behind."""
    stored: list[FaceSample] = []
    try:
        with transaction.atomic():
            people = people_for(dict.fromkeys(photo.folder for photo in photos if photo.folder), terms)
            outcomes = []
            for photo in photos:
                if photo.image is None:
                    outcomes.append(PhotoOutcome(photo.folder, photo.file, refusal=photo.refusal))
                    continue
                outcome = enroll_photo(
                    people[photo.folder][0], photo.folder, photo.file, photo.image, terms.recorded_by
                )
                if outcome.stored_now:
                    stored.append(outcome.sample)
                outcomes.append(outcome)
    except BaseException:
        for sample in stored:  # the rows went with the rollback; their encrypted files did not
            sample.image.delete(save=False)
        raise
    return outcomes, people
