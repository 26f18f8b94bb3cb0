"""Errors of the intake package; library errors are translated at each adapter's boundary.

    IntakeError                 root
    └── MailboxError            the mailbox cannot be reached or refused us
        └── MailboxAuthError    the password or token was refused (no point retrying soon)

Messages start with the mailbox they concern: ``mailbox imap://user@host/INBOX: ...``.
"""

from __future__ import annotations


class IntakeError(Exception):
    pass


class MailboxError(IntakeError):
    pass


class MailboxAuthError(MailboxError):
    pass
