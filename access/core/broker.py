"""The embedded default's broker: kombu's file-system transport, with each message written atomically.

kombu creates a message file under its final name and then writes it, so a worker polling often can take
and read a file that is still empty (a JSONDecodeError that kills it). Here the message is written under a
name no reader picks up, then renamed into place, which lets workers poll every few milliseconds and take a
frame while it is still fresh.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# kombu's reader takes only files named "<stamp>_<uuid>.<queue>.msg"; this suffix keeps half-written ones out.
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
