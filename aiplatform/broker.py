"""The embedded mode's broker: kombu's file-system transport, with each message written atomically.

kombu (5.6) writes a message file in place under its final name, and its consumer moves the file
away and reads it without taking the writer's lock. A consumer polling at the wrong moment reads an
empty or cut file, and the Celery worker stops with "Unrecoverable error: JSONDecodeError" (seen under
the bench: with the gateway publishing its usage batches every second, the worker died within a
minute, and `make run`'s honcho takes the whole platform down with it). Here a message is written
beside the queue under a name the consumer ignores, then renamed into place: a rename within one
folder is atomic, so a consumer sees a whole message or none.

Settings select it for the ``filesystem://`` broker (``CELERY_BROKER_TRANSPORT``).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL_SUFFIX = ".partial"  # kombu's consumer takes only names ending in ".<queue>.msg"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        """Put a message onto ``queue``: write it aside, then rename it into the queue folder."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.remove(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    # A folder has no host; kombu's virtual transports default to "localhost" and then warn at every
    # connection that "No hostname was supplied".
    default_connection_params: dict = {}
