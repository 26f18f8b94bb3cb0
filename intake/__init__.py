"""Mailboxes -> stored, verified inbound messages.

mailbox.py      the ``Mailbox`` Protocol every adapter implements
maildir.py      a local Maildir (the demo)
imap.py         IMAP with imapclient: TLS/STARTTLS, IDLE or polling, password or XOAUTH2
envelope.py     pure: the headers we keep, our own headers stripped, replies recognised
authresults.py  pure: RFC 8601 Authentication-Results parsed
trust.py        pure: is the sender an allow-listed domain that authenticated?
automatic.py    pure: auto-replies, bounces, list mail, our own mail coming back
screening.py    pure: the verdict on one raw message (take it, or quarantine and why)
casework.py     a taken message -> a case (parsers, triage, records)
worker.py       one mailbox, exactly once: lease, claim, process, move, reconcile
"""
