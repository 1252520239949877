"""The README's run command end to end on the embedded default: SQLite and the file-system broker in a fresh
data folder, with gunicorn and a Celery worker started from deploy/Procfile, each a process of its own."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, descends_from, start_process_group, stop_process_group

START_TIMEOUT_S = 240  # the run command first checks the virtualenv, migrates and collects static files
SERVER_URL_VARIABLES = {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL",
                        "CELERY_RESULT_BACKEND"}
POST_PING = "import json; from recognition.tasks import ping; print(json.dumps(ping.delay().get(timeout=60)))"
# The health view as a request from outside would see it, run in a fresh process with the given settings.
PROBE_HEALTH = (
    "import json; from django.test import Client;"
    " response = Client(HTTP_HOST='localhost', **{headers!r}).get('/api/health/');"
    " print(json.dumps([response.status_code, response.json()]))"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, data: dict | None = None) -> tuple[int, bytes, str]:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.url
    except urllib.error.HTTPError as error:
        return error.code, error.read(), url


def _wait_for_health(url: str, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            status, body, _ = _request(url)
            if status == 200:
                return json.loads(body)
        except (urllib.error.URLError, ConnectionError):
            status = None
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"health never answered 200 (last: {status}); run log:\n{log.read_text()[-4000:]}")
        time.sleep(1)


def _manage_shell(env: dict[str, str], code: str):
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO_ROOT, env=env,
                          check=True, capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh install: no server URLs, a data folder of its own."""
    env = {key: value for key, value in os.environ.items() if key not in SERVER_URL_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="access.settings.base",
        FACEGATE_DATA_DIR=str(tmp_path / "data"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    )
    return env


def test_run_command_serves_web_and_worker(embedded_env, tmp_path):
    port = _free_port()
    site = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    run = start_process_group(["bash", "deploy/run.sh"], {**embedded_env, "PORT": str(port)}, log)
    try:
        health = _wait_for_health(f"{site}/api/health/", run, log)
        assert health == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "workers": "ok"}}

        reply = _manage_shell(embedded_env, POST_PING)
        assert reply["pong"] == "ok"
        assert descends_from(reply["pid"], run.pid)

        password = re.search(r"password: (\S+)", log.read_text()).group(1)
        status, body, _ = _request(f"{site}/api/auth/token/", {"username": "admin", "password": password})
        assert status == 200, body
        assert _request(f"{site}/admin/login/")[0] == 200
        assert _request(f"{site}/static/admin/css/base.css")[0] == 200
        status, _, landed = _request(f"{site}/api/docs/")
        assert (status, landed.split("?")[0]) == (200, f"{site}/admin/login/")
    finally:
        stop_process_group(run)

    assert (tmp_path / "data" / "facegate.sqlite3").exists()
    status, body = _manage_shell(embedded_env, PROBE_HEALTH.format(headers={}))
    assert (status, body["checks"]) == (503, {"database": "ok", "broker": "ok", "workers": "fail"})


def test_health_reports_a_database_that_does_not_answer(embedded_env):
    nothing_listens = {**embedded_env, "DATABASE_URL": "postgres://facegate:x@127.0.0.1:9/facegate"}
    # Credentials would need the database to check: they must not turn the 503 into a 500.
    with_a_token = PROBE_HEALTH.format(headers={"HTTP_AUTHORIZATION": "Token 0123456789abcdef"})

    status, body = _manage_shell(nothing_listens, with_a_token)

    assert (status, body) == (503, {"status": "unavailable",
                                    "checks": {"database": "fail", "broker": "ok", "workers": "fail"}})
