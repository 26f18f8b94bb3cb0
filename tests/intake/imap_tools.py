"""Another IMAP client on the test Dovecot: the agencies' mail arriving, and a colleague
deleting or moving messages, while the daemon runs."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from imapclient import IMAPClient

from tests.servers import DOVECOT_PASSWORD, DOVECOT_USER, Dovecot


@contextmanager
def client(dovecot: Dovecot, user: str = DOVECOT_USER) -> Iterator[IMAPClient]:
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    connection = IMAPClient("127.0.0.1", port=dovecot.imaps_port, ssl=True, ssl_context=context)
    connection.login(user, DOVECOT_PASSWORD)
    try:
        yield connection
    finally:
        connection.logout()


def append(
    dovecot: Dovecot,
    folder: str,
    raw: bytes,
    when: datetime | None = None,
    user: str = DOVECOT_USER,
) -> None:
    with client(dovecot, user) as connection:
        connection.append(folder, raw, msg_time=when)


def count(dovecot: Dovecot, folder: str, user: str = DOVECOT_USER) -> int:
    with client(dovecot, user) as connection:
        if not connection.folder_exists(folder):
            return 0
        return int(connection.select_folder(folder, readonly=True)[b"EXISTS"])


def empty(dovecot: Dovecot, user: str = DOVECOT_USER) -> None:
    """Start a test with an empty mailbox: every folder's messages expunged."""
    with client(dovecot, user) as connection:
        for _flags, _delimiter, name in connection.list_folders():
            connection.select_folder(name)
            uids = connection.search(["ALL"])
            if uids:
                connection.delete_messages(uids)
                connection.expunge()
