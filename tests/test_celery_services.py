"""The rule for servers the suite needs: skip only where one is not installed here, and never under CI."""

import socket

import pytest

from tests import conftest


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # free once the socket closes: nothing listens there


def test_a_server_not_installed_here_skips(monkeypatch, closed_port):
    monkeypatch.setattr(conftest, "IN_CI", False)

    with pytest.raises(pytest.skip.Exception, match="not installed"):
        conftest.require_server("Nothing", "127.0.0.1", closed_port, ["facegate-no-such-server"])


def test_an_installed_server_that_does_not_answer_fails(monkeypatch, closed_port):
    monkeypatch.setattr(conftest, "IN_CI", False)

    with pytest.raises(pytest.fail.Exception, match="does not answer"):
        conftest.require_server("Shell", "127.0.0.1", closed_port, ["sh"])


def test_under_ci_a_missing_server_fails(monkeypatch, closed_port):
    monkeypatch.setattr(conftest, "IN_CI", True)

    with pytest.raises(pytest.fail.Exception, match="does not answer"):
        conftest.require_server("Nothing", "127.0.0.1", closed_port, ["facegate-no-such-server"])
