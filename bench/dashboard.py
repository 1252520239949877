"""How long the dashboard's operations pages take to answer on a busy site: the chart figures alone, then
whole pages through Django's test client (no browser), signed in as an administrator.

    nice -n 5 .venv/bin/python -m bench.dashboard                   # from the repository root
    nice -n 5 .venv/bin/python -m bench.dashboard --events 500000 --repeats 9

It makes a scratch database (dropped at the end) and fills it with `--events` decisions spread over 30 days at
4 doors and their cameras, an alert for one event in 50, and as many audit log entries as events.
"""

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

DOORS = 4
PEOPLE = 300
DAYS = 30
ALERT_EVERY = 50
BATCH = 10_000


def fill(events: int) -> None:
    """Decisions at random moments of the last DAYS days: a third grants, the rest denies, with distances."""
    import random

    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from access.alerts.models import Alert
    from access.audit.models import AuditLog
    from access.cameras.models import Camera
    from access.doors.models import Door
    from access.events.models import Event
    from access.people.models import Person

    rng = random.Random(7)
    now = timezone.now()
    doors = [Door.objects.create(name=f"Door {n}", controller_kind="mqtt", mqtt_topic=f"bench/{n}")
             for n in range(DOORS)]  # fmt: skip
    cameras = [Camera.objects.create(name=f"Camera {n}", source_url=f"rtsp://10.0.0.{n}/s", door=door)
               for n, door in enumerate(doors)]  # fmt: skip
    people = Person.objects.bulk_create(
        [Person(name=f"Person {n}", external_id=f"B-{n}") for n in range(PEOPLE)]
    )
    admin = get_user_model().objects.get(username="bench-admin")
    person_type = ContentType.objects.get_for_model(Person)
    for start in range(0, events, BATCH):
        batch = []
        for n in range(start, min(start + BATCH, events)):
            camera = cameras[n % DOORS]
            granted = rng.random() < 1 / 3
            batch.append(Event(
                occurred_at=now - timedelta(seconds=rng.uniform(0, DAYS * 86400)), camera=camera,
                door=camera.door, person=rng.choice(people) if granted else None,
                distance=rng.uniform(0.15, 0.43) if granted else rng.uniform(0.44, 1.2),
                decision="grant" if granted else "deny", reason="bench", idempotency_key=f"bench-{n}",
            ))  # fmt: skip
        stored = Event.objects.bulk_create(batch)
        Alert.objects.bulk_create(
            [Alert(kind=Alert.Kind.BLOCKLIST, event=event, door=event.door, camera=event.camera)
             for event in stored[::ALERT_EVERY]]  # fmt: skip
        )
        AuditLog.objects.bulk_create([
            AuditLog(occurred_at=event.occurred_at, actor=admin, actor_name="bench-admin", action="update",
                     source="api", content_type=person_type, object_id=str(rng.choice(people).pk),
                     object_repr="Person", changes={"name": {"before": "a", "after": "b"}})
            for event in stored
        ])  # fmt: skip


def median_ms(action: Callable[[], object], repeats: int) -> float:
    action()  # warm: the first call pays for imports, templates and the database's caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def run(repeats: int) -> list[tuple[str, float]]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from access.cameras.models import Camera
    from access.dashboard import charts

    now = timezone.now()
    camera = Camera.objects.first()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))

    def page(path: str) -> Callable[[], object]:
        def get() -> None:
            response = client.get(path)
            assert response.status_code == 200, f"{path} answered {response.status_code}"

        return get

    return [
        ("hourly_counts (24 h)", median_ms(lambda: charts.hourly_counts(now), repeats)),
        ("door_counts (24 h)",
         median_ms(lambda: charts.door_counts(now - timedelta(hours=24), now), repeats)),
        ("distance_histogram (30 days)",
         median_ms(lambda: charts.distance_histogram(camera, now - timedelta(days=30)), repeats)),
        ("GET /dashboard/charts/?days=30",
         median_ms(page(f"/dashboard/charts/?camera={camera.pk}&days=30"), repeats)),
        ("GET /dashboard/doors/", median_ms(page("/dashboard/doors/"), repeats)),
        ("GET /dashboard/cameras/", median_ms(page("/dashboard/cameras/"), repeats)),
        ("GET /dashboard/audit/", median_ms(page("/dashboard/audit/"), repeats)),
        ("GET /dashboard/audit/?action=update&page=100",
         median_ms(page("/dashboard/audit/?action=update&page=100"), repeats)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000, help="decisions to store (default 200000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure; the median is shown")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "access.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_facegate_bench_{os.getpid()}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    databases = setup_databases(verbosity=0, interactive=False)
    try:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        admin = get_user_model().objects.create_user("bench-admin", password=uuid.uuid4().hex)
        admin.groups.add(Group.objects.get(name="admin"))
        started = time.perf_counter()
        fill(args.events)
        print(f"filled {args.events} events, {args.events // ALERT_EVERY} alerts and {args.events} audit "
              f"entries over {DAYS} days at {DOORS} doors in {time.perf_counter() - started:.0f} s")
        print(f"median of {args.repeats} calls, after one warm-up call:")
        for name, ms in run(args.repeats):
            print(f"  {name:<46} {ms:8.1f} ms")
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(databases, verbosity=0)


if __name__ == "__main__":
    main()
