import csv
from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from access.doors.models import Door
from access.people import bulk
from access.people.models import Consent, FaceSample, Person
from recognition import tasks


class Command(BaseCommand):
    help = (
        "Enroll people from DIR: one sub-folder per person, named after them (Abdullah_Gul -> Abdullah Gul), "
        "each photo in it a face sample. Photos go through the same quality and conflict checks as uploads, "
        "enrolled here with the recognition engine. Safe to run again: a photo already stored for its person "
        "is not enrolled twice, and an interrupted run finishes where it stopped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, metavar="DIR")
        parser.add_argument(
            "--consent-method",
            required=True,
            choices=Consent.Method.values,
            help="how every person in DIR gave consent to biometric processing (recorded for each new one)",
        )
        parser.add_argument(
            "--consent-reference", default="", help="where the consent records are kept, e.g. 'HR file 2024'"
        )
        parser.add_argument(
            "--allow-door",
            action="append",
            default=[],
            metavar="NAME",
            help="let every person through this door (by name; repeat for more doors)",
        )
        parser.add_argument(
            "--external-ids",
            type=Path,
            metavar="CSV",
            help="a CSV with columns folder,external_id naming the people's badge or employee numbers; "
            "other folders get an ID derived from their name",
        )
        parser.add_argument("--recorded-by", metavar="USERNAME", help="the user who recorded the consents")

    def handle(self, *args, folder: Path, **options) -> None:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        terms = bulk.EnrollmentTerms(
            consent_method=Consent.Method(options["consent_method"]),
            document_reference=options["consent_reference"],
            doors=[self._door(name) for name in options["allow_door"]],
            recorded_by=self._user(options["recorded_by"]),
        )
        external_ids = self._external_ids(options["external_ids"])
        files = list(bulk.folder_files(folder))
        people = bulk.people_for(
            dict.fromkeys(file.folder for file in files if file.folder), terms, external_ids
        )
        outcomes = []
        try:
            for outcome in bulk.enroll_files(
                tqdm(files, unit="photo", disable=None), people, tasks.enroll_sample, terms.recorded_by
            ):
                outcomes.append(outcome)
        except KeyboardInterrupt:
            self._summarise(outcomes, people)
            raise CommandError(
                "Interrupted: run the same command again to finish; nothing is enrolled twice."
            ) from None
        self._summarise(outcomes, people)

    def _summarise(self, outcomes: list[bulk.PhotoOutcome], people: dict[str, tuple[Person, bool]]) -> None:
        by_person: dict[str, Counter] = {}
        for outcome in outcomes:
            by_person.setdefault(outcome.folder, Counter())[_column(outcome)] += 1
        for folder, (person, created) in people.items():
            counts = by_person.get(folder, Counter())
            figures = ", ".join(f"{counts[column]} {column}" for column in COLUMNS if counts[column])
            self.stdout.write(f"{person}{' (new)' if created else ''}: {figures or 'no photos'}")
        for outcome in outcomes:
            if outcome.state in (FaceSample.State.REJECTED, bulk.REFUSED):
                self.stdout.write(f"  rejected {outcome.file}: {outcome.reason}")
        totals = Counter(_column(outcome) for outcome in outcomes)
        new_people = sum(created for _, created in people.values())
        summary = ", ".join(f"{totals[column]} {column}" for column in COLUMNS)
        self.stdout.write(
            self.style.SUCCESS(f"{len(outcomes)} files: {summary}; {len(people)} people ({new_people} new).")
        )

    def _door(self, name: str) -> Door:
        door = Door.objects.filter(name=name).first()
        if door is None:
            raise CommandError(f"No door is named {name!r}")
        return door

    def _user(self, username: str | None):
        if username is None:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is named {username!r}")
        return user

    def _external_ids(self, path: Path | None) -> dict[str, str]:
        if path is None:
            return {}
        try:
            with path.open(newline="") as table:
                rows = list(csv.DictReader(table))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error}") from error
        if rows and not {"folder", "external_id"} <= rows[0].keys():
            raise CommandError(f"{path} needs the columns folder,external_id")
        return {row["folder"]: row["external_id"].strip() for row in rows if row["external_id"].strip()}


ENROLLED, ALREADY, REJECTED = "enrolled", "already stored", "rejected"
COLUMNS = (ENROLLED, ALREADY, REJECTED, FaceSample.State.PENDING.value)


def _column(outcome: bulk.PhotoOutcome) -> str:
    """Where a file counts in the summary: a photo an earlier run enrolled counts as already stored."""
    if outcome.state in (FaceSample.State.REJECTED, bulk.REFUSED):
        return REJECTED
    if outcome.decided_earlier:
        return ALREADY
    return outcome.state
