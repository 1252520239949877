from django.core.management.base import BaseCommand, CommandError

from access.demo import services
from access.people.models import FaceSample
from recognition import tasks


class Command(BaseCommand):
    help = (
        "Seed the demo (safe to run again): a door, a camera playing a generated clip in a loop, and a demo "
        "person enrolled from scikit-image's public-domain astronaut photo and allowed through the door. The "
        "clip shows her (granted) and a man who is not enrolled (denied). --disable stops the demo camera."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--disable", action="store_true", help="stop the demo camera, if there is one")

    def handle(self, *args, disable: bool, **options) -> None:
        if disable:
            stopped = services.disable_demo()
            self.stdout.write("Demo camera stopped." if stopped else "No demo camera running.")
            return
        site = services.seed_demo(enroll_now=tasks.enroll_sample)
        if site.sample.state != FaceSample.State.ENROLLED:
            raise CommandError(f"The demo photo was not enrolled: {site.sample.rejection_reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo: camera {site.camera.name!r} plays {site.camera.source_url} in a loop at door "
                f"{site.door.name!r}; {site.person} is enrolled and allowed, the other face is not."
            )
        )
