from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from access.people.cohort import install_cohort
from recognition.calibration import MIN_COHORT_SIZE


class Command(BaseCommand):
    help = (
        "Build the impostor cohort from photos of people who are not enrolled (every image under DIR, one "
        "face each) and install it, encrypted, at FACEGATE_COHORT_FILE; workers score with it from then on."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, metavar="DIR")
        parser.add_argument(
            "--min-faces",
            type=int,
            default=MIN_COHORT_SIZE,
            help=f"fewest usable faces (FACEGATE_COHORT_THRESHOLD holds for {MIN_COHORT_SIZE} or more)",
        )

    def handle(self, *args, folder: Path, min_faces: int, **options) -> None:
        if min_faces < 1:
            raise CommandError("--min-faces must be at least 1")
        try:
            built = install_cohort(
                folder, min_faces, progress=lambda files: tqdm(files, unit="photo", disable=None)
            )
        except (OSError, ValueError) as error:
            raise CommandError(f"No cohort installed: {error}") from error
        for name, reason in built.left_out.items():
            self.stdout.write(f"left out {name}: {reason}")
        if built.faces < MIN_COHORT_SIZE:
            self.stderr.write(
                f"Only {built.faces} faces: FACEGATE_COHORT_THRESHOLD is calibrated for {MIN_COHORT_SIZE} or "
                "more, so its false-accept rate with this cohort is unmeasured."
            )
        installed = f"Installed a cohort of {built.faces} faces at {built.path}"
        self.stdout.write(self.style.SUCCESS(f"{installed}; {len(built.left_out)} files left out."))
