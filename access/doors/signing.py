"""HMAC-SHA256 signatures between FaceGate and HTTP door controllers, both ways.

The signed message is `<unix timestamp>.<body>`, so a captured request cannot be replayed once its
timestamp is older than FACEGATE_DOOR_HMAC_MAX_AGE_S, nor its body reused under a fresh timestamp.
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-FaceGate-Signature"
TIMESTAMP_HEADER = "X-FaceGate-Timestamp"
_SCHEME = "sha256="


class BadSignature(Exception):
    """The request is unsigned, signed with another secret, or too old."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return _SCHEME + digest


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, timestamp: str, sent_signature: str, body: bytes, max_age_s: float) -> None:
    """Raise BadSignature unless the body was signed with `secret` within `max_age_s` of now."""
    if not secret:
        raise BadSignature("No HMAC secret is configured (FACEGATE_DOOR_HMAC_SECRET).")
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        raise BadSignature(f"The {TIMESTAMP_HEADER} header must be a Unix time in seconds.") from None
    if age > max_age_s:
        raise BadSignature(
            f"The request is signed {age:.0f} s away from now; at most {max_age_s:g} s is accepted."
        )
    if not hmac.compare_digest(signature(secret, timestamp, body), sent_signature):
        raise BadSignature("The signature does not match the body.")
