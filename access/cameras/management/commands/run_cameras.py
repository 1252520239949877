import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from access.cameras.stream.service import CameraService, ServiceOptions


class Command(BaseCommand):
    help = (
        "Read every enabled camera (one thread each), gate and rate-cap its frames and queue them for the "
        "frame workers; follows the camera list, so cameras enabled or disabled later are picked up. Stops "
        "on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser) -> None:
        defaults = ServiceOptions()
        parser.add_argument(
            "--refresh", type=float, default=defaults.refresh_s,
            help="Seconds between reads of the camera list.",
        )
        parser.add_argument(
            "--queue-size", type=int, default=defaults.queue_size,
            help="Frames each camera holds for its sender; beyond this the oldest is dropped.",
        )
        parser.add_argument(
            "--in-flight", type=int, default=defaults.max_in_flight,
            help="Frames of one camera the workers may hold at once.",
        )

    def handle(self, *args, refresh: float, queue_size: int, in_flight: int, **options) -> None:
        if refresh <= 0 or queue_size < 1 or in_flight < 1:
            raise CommandError("--refresh must be above 0, --queue-size and --in-flight at least 1.")
        stop = threading.Event()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, lambda *_: stop.set())
        CameraService(ServiceOptions(queue_size, in_flight, refresh)).run(stop)
