"""HTTP door controllers: the command is POSTed as JSON to the door's URL, signed with HMAC-SHA256.

A connection error, a timeout or a 5xx/408/429 answer is retried with exponential backoff; any other
4xx means the relay refused the command (a bad signature, say) and retrying would not help.
"""

import json
import time
import urllib.error
import urllib.request

from django.conf import settings

from ..models import Door
from ..signing import signed_headers
from . import ControllerError

RETRIED_STATUSES = {408, 429}


def send(door: Door, payload: dict) -> int:
    """POST the command; returns the number of attempts it took."""
    secret = settings.FACEGATE_DOOR_HMAC_SECRET
    if not secret:
        raise ControllerError(
            "FACEGATE_DOOR_HMAC_SECRET is empty: HTTP door commands are always signed, so none can be sent.",
            attempts=0,
        )
    body = json.dumps(payload).encode()
    attempts = settings.FACEGATE_DOOR_HTTP_ATTEMPTS
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            door.http_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **signed_headers(secret, body)},
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.FACEGATE_DOOR_COMMAND_TIMEOUT_S):
                return attempt
        except urllib.error.HTTPError as exc:
            error = f"{door.http_url} answered {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code not in RETRIED_STATUSES:
                raise ControllerError(error, attempts=attempt) from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
            error = f"{door.http_url} could not be reached: {getattr(exc, 'reason', exc)}"
        if attempt < attempts:
            time.sleep(settings.FACEGATE_DOOR_HTTP_BACKOFF_S * 2 ** (attempt - 1))
    raise ControllerError(f"{error} (gave up after {attempts} attempts)", attempts=attempts)
