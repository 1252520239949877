"""The embedded default's file-system broker writes each message whole before a worker can see it."""

from pathlib import Path

import pytest
from kombu import Connection

from access.core.broker import PARTIAL_SUFFIX


@pytest.fixture
def connection(tmp_path: Path):
    folder = tmp_path / "queue"
    folder.mkdir()
    (tmp_path / "control").mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False,
               "control_folder": str(tmp_path / "control"), "polling_interval": 0.01}
    with Connection("filesystem://", transport="access.core.broker:Transport",
                    transport_options=options) as connection:
        # kombu remembers declared queues per transport class: a queue name of this test's own keeps each
        # test's bindings in its own control folder.
        yield connection, folder, f"frames-{tmp_path.name}"


def test_messages_round_trip_and_leave_no_partial_files(connection):
    connection, folder, name = connection
    queue = connection.SimpleQueue(name)
    for number in range(3):
        queue.put({"frame": number})

    assert not list(folder.glob(f"*{PARTIAL_SUFFIX}"))
    # Messages put in the same millisecond come out in any order, as with kombu's own transport.
    received = sorted(queue.get(timeout=2).payload["frame"] for _ in range(3))
    assert received == [0, 1, 2]


def test_a_message_still_being_written_is_not_taken(connection):
    connection, folder, name = connection
    queue = connection.SimpleQueue(name)
    queue.put({"frame": "whole"})
    # What a writer leaves mid-write: a finished message's name plus the partial suffix, and no body yet.
    finished = next(folder.glob(f"*.{name}.msg"))
    (folder / f"0_{finished.name.split('_', 1)[1]}{PARTIAL_SUFFIX}").write_bytes(b"")

    message = queue.get(timeout=2)

    assert message.payload == {"frame": "whole"}
    with pytest.raises(queue.Empty):
        queue.get(timeout=0.2)
