"""The README's run command shows a new user the demo: a grant and a deny among the events, through the API,
on the embedded default in a fresh data folder (web, worker, beat, camera service and door bridge from
deploy/Procfile, each a process of its own)."""

import json
import re
import time
import urllib.request

import pytest

from tests import test_celery_embedded as embedded
from tests.conftest import start_process_group, stop_process_group
from tests.test_celery_embedded import _free_port, _request, _wait_for_health

embedded_env = embedded.embedded_env  # the fixture: a fresh install's environment

EVENTS_TIMEOUT_S = 300  # a generous bound for a shared CPU; the demo aims at a minute on a quiet machine


def _events(site: str, token: str) -> list[dict]:
    request = urllib.request.Request(f"{site}/api/events/", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["results"]


def test_the_run_command_shows_a_grant_and_a_deny_at_the_demo_door(embedded_env, tmp_path):
    port = _free_port()
    site = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    run = start_process_group(["bash", "deploy/run.sh"], {**embedded_env, "PORT": str(port)}, log)
    try:
        _wait_for_health(f"{site}/api/health/", run, log)
        serving = time.monotonic()
        password = re.search(r"password: (\S+)", log.read_text()).group(1)
        status, body, _ = _request(f"{site}/api/auth/token/", {"username": "admin", "password": password})
        assert status == 200, body
        token = json.loads(body)["token"]

        seen: dict[str, dict] = {}
        while not {"grant", "deny"} <= seen.keys():
            if run.poll() is not None or time.monotonic() - serving > EVENTS_TIMEOUT_S:
                pytest.fail(f"no grant and deny (saw {sorted(seen)}); run log:\n{log.read_text()[-4000:]}")
            for event in _events(site, token):
                seen.setdefault(event["decision"], event)
            time.sleep(2)
        print(f"grant and deny listed {time.monotonic() - serving:.0f} s after the site answered")
    finally:
        stop_process_group(run)

    assert "Demo: camera 'Demo camera'" in log.read_text()
    assert seen["grant"]["person"] is not None and seen["grant"]["reason"] == "Allowed at Demo door"
    assert seen["deny"]["person"] is None and seen["deny"]["reason"].startswith("Unknown face")


def test_the_demo_can_be_switched_off(embedded_env, tmp_path):
    env = {**embedded_env, "FACEGATE_DEMO": "0", "PORT": str(_free_port())}
    log = tmp_path / "run.log"
    run = start_process_group(["bash", "deploy/run.sh"], env, log)
    try:
        _wait_for_health(f"http://127.0.0.1:{env['PORT']}/api/health/", run, log)
    finally:
        stop_process_group(run)

    assert "Demo:" not in log.read_text() and "No demo camera running." in log.read_text()
