"""Transports that deliver a command to a door's controller: one module per controller kind."""


class ControllerError(Exception):
    """The command did not reach the controller; the message says why."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts
