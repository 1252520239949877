"""The embedded default end to end: SQLite and the file-system broker in a fresh data folder, with the web and
the worker started from deploy/Procfile as the run command starts them, each a separate process."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, descends_from, start_process_group, stop_process_group

START_TIMEOUT_S = 90
SERVER_URL_VARIABLES = {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL",
                        "CELERY_RESULT_BACKEND"}
POST_PING = "import json; from recognition.tasks import ping; print(json.dumps(ping.delay().get(timeout=60)))"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _wait_for_health(url: str, want_status: int, processes: list[subprocess.Popen], logs: list[Path]) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            status, body = _get_json(url)
            if status == want_status:
                return body
        except (urllib.error.URLError, ConnectionError):
            status, body = None, None
        if any(process.poll() is not None for process in processes) or time.monotonic() > deadline:
            tails = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
            pytest.fail(f"health never answered {want_status} (last: {status} {body}); logs:\n{tails}")
        time.sleep(1)


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh install: no server URLs, a data folder of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SERVER_URL_VARIABLES
    }
    env.update(
        DJANGO_SETTINGS_MODULE="access.settings.base",
        FACEGATE_DATA_DIR=str(tmp_path / "data"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    )
    return env


def test_embedded_default_runs_web_and_worker_as_separate_processes(embedded_env, tmp_path):
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=REPO_ROOT, env=embedded_env, check=True,
                   capture_output=True)
    port = _free_port()
    health_url = f"http://127.0.0.1:{port}/api/health/"
    honcho = [sys.executable, "-m", "honcho", "-f", "deploy/Procfile", "-d", str(REPO_ROOT), "start"]
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"

    web = start_process_group([*honcho, "-p", str(port), "web"], embedded_env, web_log)
    worker = None
    try:
        body = _wait_for_health(health_url, 503, [web], [web_log])
        assert body["checks"] == {"database": "ok", "broker": "ok", "workers": "fail"}

        worker = start_process_group([*honcho, "worker"], embedded_env, worker_log)
        body = _wait_for_health(health_url, 200, [web, worker], [web_log, worker_log])
        assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "workers": "ok"}}

        posted = subprocess.run([*manage, "shell", "-c", POST_PING], cwd=REPO_ROOT, env=embedded_env,
                                check=True, capture_output=True, text=True, timeout=120)
        reply = json.loads(posted.stdout.strip().splitlines()[-1])
        assert reply["pong"] == "ok"
        assert descends_from(reply["pid"], worker.pid)
        assert (tmp_path / "data" / "facegate.sqlite3").exists()
        assert (tmp_path / "data" / "celery-results.sqlite3").exists()
    finally:
        for process in (worker, web):
            if process is not None:
                stop_process_group(process)
