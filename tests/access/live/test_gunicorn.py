"""The stream under the Procfile's own web command (gunicorn, threaded workers), fed by another process:
open streams leave the rest of the API answering, and an event this test process commits reaches them all."""

import shlex
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from access.events.services import record_event
from tests.access.conftest import make_user
from tests.conftest import REPO_ROOT, start_process_group, stop_process_group, worker_environment

from .sse import SSEStream

START_TIMEOUT_S = 60
ARRIVES_WITHIN_S = 3.0  # a ceiling, not a speed goal

pytestmark = pytest.mark.django_db(transaction=True)


def procfile_web_command(port: int) -> list[str]:
    line = next(line for line in (REPO_ROOT / "deploy" / "Procfile").read_text().splitlines()
                if line.startswith("web:"))
    command = shlex.split(line.removeprefix("web:").replace("$PORT", str(port)))
    assert command[:2] == ["exec", "gunicorn"]
    return [str(Path(sys.executable).parent / "gunicorn"), *command[2:]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**worker_environment(tmp_path / "media"), "FACEGATE_STREAM_POLL_SECONDS": "0.1",
           "FACEGATE_STREAM_HEARTBEAT_SECONDS": "0.2"}
    log = tmp_path / "gunicorn.log"
    process = start_process_group(procfile_web_command(port), env, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            _get(f"{url}/api/health/", {})
            break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer; its log ends:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    try:
        yield url
    finally:
        stop_process_group(process)


def test_streams_leave_the_api_answering_and_all_get_the_event(gunicorn, camera):
    viewer = {"Authorization": f"Token {Token.objects.create(user=make_user('viewer')).key}"}
    streams = [SSEStream(gunicorn, headers=viewer) for _ in range(4)]
    try:
        for stream in streams:
            assert stream.status == 200
            stream.next_message(ARRIVES_WITHIN_S)  # the opening: reconnect delay and cursor

        assert _get(f"{gunicorn}/api/events/", viewer) == 200

        event, _ = record_event("other-process", camera=camera, decision="deny", reason="Unknown face")
        received = [stream.next_data_message(ARRIVES_WITHIN_S) for stream in streams]
    finally:
        for stream in streams:
            stream.close()

    assert {(message.event, message.json["id"]) for message in received} == {("event", event.pk)}
