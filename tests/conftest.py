"""Test infrastructure: real PostgreSQL, real Redis and a real Celery worker process.

deploy/test.sh starts the servers (deploy/local/start-test-services.sh) and access.settings.test points at
them. A test that needs a server which does not answer fails with a hint, except on a developer machine
where that server is not even installed: there it skips and says why. Under CI (CI=true) nothing skips.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
WORKER_QUEUES = "default,enrollment,frames"
WORKER_START_TIMEOUT_S = 90


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int, binaries: list[str]) -> None:
    """Skip when the server is simply not installed here (outside CI); fail when it should be answering."""
    if _answers(host, port):
        return
    installed = any(shutil.which(binary) for binary in binaries)
    hint = "start it with deploy/local/start-test-services.sh (deploy/test.sh does)"
    if not installed and not IN_CI:
        pytest.skip(f"{name} is not installed on this machine ({host}:{port} does not answer); {hint}")
    pytest.fail(f"{name} does not answer on {host}:{port}; {hint}", pytrace=False)


def _require_database_servers() -> None:
    for db in settings.DATABASES.values():
        if db["ENGINE"] == "django.db.backends.postgresql":
            host, port = db["HOST"] or "localhost", int(db["PORT"] or 5432)
            require_server("PostgreSQL", host, port, ["pg_ctlcluster", "pg_ctl", "postgres"])


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Check the database server answers, and give this run its own test database.

    Several engineers and CI share one PostgreSQL: a per-process name keeps their runs from dropping each
    other's database.
    """
    _require_database_servers()
    for db in settings.DATABASES.values():
        if db["ENGINE"] != "django.db.backends.sqlite3":
            test_name = db.get("TEST", {}).get("NAME") or f"test_{db['NAME']}"
            db.setdefault("TEST", {})["NAME"] = f"{test_name}_{os.getpid()}"


@dataclass(frozen=True)
class WorkerProcess:
    name: str
    process: subprocess.Popen
    log: Path
    media_root: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_process_group(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a command in its own process group, so stopping it also stops every child it forked."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether process `pid` is `ancestor` or was started, directly or not, by it (Linux /proc)."""
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def stop_process_group(process: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGTERM to the leader (a warm shutdown for Celery, gunicorn and honcho); SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def worker_environment(media_root: Path) -> dict[str, str]:
    """The test process's environment, with DATABASE_URL renamed to the test database pytest-django made.

    The data folder stays the same, so the worker holds the same encryption keys as the tests.
    """
    test_db = settings.DATABASES["default"]
    if test_db["ENGINE"] == "django.db.backends.sqlite3":
        pytest.fail("a worker process cannot share an in-memory SQLite test database: set DATABASE_URL to "
                    "PostgreSQL (access.settings.test does by default)", pytrace=False)
    database_url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{test_db['NAME']}").geturl()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "access.settings.test",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
    }


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """A real `celery worker` process on the real broker, using this run's test database.

    Tests whose task reads rows they wrote need `django_db(transaction=True)`, so the rows are committed
    where the worker can see them, and `settings.MEDIA_ROOT = str(celery_worker.media_root)` when it reads
    files they stored.
    """
    from access.celery import app

    broker = urlsplit(app.conf.broker_url)
    if broker.scheme == "redis":
        require_server("Redis", broker.hostname or "localhost", broker.port or 6379, ["redis-server"])

    name = f"pytest-{os.getpid()}@{socket.gethostname()}"
    command = [sys.executable, "-m", "celery", "-A", "access", "worker", "-Q", WORKER_QUEUES,
               "--pool", "prefork", "--concurrency", "1", "-n", name, "--loglevel", "INFO",
               "--without-gossip", "--without-mingle"]
    folder = tmp_path_factory.mktemp("celery")
    log, media_root = folder / "worker.log", folder / "media"
    process = start_process_group(command, worker_environment(media_root), log)
    worker = WorkerProcess(name, process, log, media_root)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not app.control.ping(destination=[name], timeout=1.0):
            if worker.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no celery worker; its log ends:\n{worker.log_tail()}", pytrace=False)
        yield worker
    finally:
        stop_process_group(worker.process)
