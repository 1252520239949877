"""A small server-sent-events client over a real HTTP connection, for the live stream's tests."""

import http.client
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Message:
    id: str | None = None
    event: str = "message"
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> dict:
        return json.loads(self.data)


class StreamClosed(Exception):
    """The server ended the stream."""


class SSEStream:
    """GET a stream and read it message by message, as a browser's EventSource would parse it."""

    def __init__(self, base_url: str, path: str = "/api/stream/", headers: dict[str, str] | None = None,
                 read_timeout_s: float = 10.0) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=read_timeout_s)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        # Kept: the connection lets go of its socket when the server says it will close after this response.
        self.socket = self.connection.sock
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def next_message(self, within_s: float) -> Message:
        """The next message or comment block; fails the test when none is complete within `within_s`."""
        deadline = time.monotonic() + within_s
        message = Message()
        seen_anything = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete message within {within_s} s")
            self.socket.settimeout(remaining)
            try:
                line = self.response.readline()
            except TimeoutError as exc:
                raise TimeoutError(f"no complete message within {within_s} s") from exc
            if not line:
                raise StreamClosed()
            line = line.decode().rstrip("\r\n")
            if line == "":
                if seen_anything:
                    return message
                continue
            seen_anything = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                message.comments.append(value)
            elif name == "data":
                message.data = f"{message.data}\n{value}" if message.data else value
            elif name in ("id", "event"):
                setattr(message, name, value)

    def next_data_message(self, within_s: float) -> Message:
        """The next message that carries data, skipping comments and bare id or retry lines."""
        deadline = time.monotonic() + within_s
        while True:
            message = self.next_message(max(deadline - time.monotonic(), 0.001))
            if message.data:
                return message

    def close(self) -> None:
        self.response.close()
        self.connection.close()

    def __enter__(self) -> "SSEStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
