import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from access.doors.bridge import DoorBridge
from access.doors.controllers import ControllerError


class Command(BaseCommand):
    help = (
        "Bridge the MQTT door controllers: store their heartbeats and reported states, publish Home "
        "Assistant discovery and availability. Without MQTT_URL it idles, so the launcher keeps running."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--refresh", type=float, default=5.0, help="Seconds between re-reading the door list (default 5)."
        )

    def handle(self, *args, refresh: float, **options) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if not settings.MQTT_URL:
            self.stdout.write("MQTT_URL is empty: there are no MQTT door controllers to bridge.")
            stop.wait()
            return
        try:
            bridge = DoorBridge(settings.MQTT_URL)
        except ControllerError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Bridging MQTT door controllers on {bridge.broker}.")
        bridge.run(stop, refresh)
