"""The one place state lives: tables, sessions, migrations, query functions.

    tables.py     the SQLModel tables (the schema); migrations/ builds them with Alembic
    database.py   an engine and sessions for a URL (SQLite under ./var/ or PostgreSQL)
    sealing.py    encryption at rest of raw messages and attachments (AES-256-GCM)
    ledger.py     the inbound-message ledger: claim, find, quarantine, mark moved
    cases.py      cases, forms, fields, proposals, deadlines; case references
    events.py     the append-only event log
    leases.py     one holder at a time per mailbox, with expiry
    taking.py     one row of shared work (a claimed message, a reply) taken by one daemon
    outbox.py     replies queued once, taken, admitted to the hourly rate, sent, filed
    views.py      read-only summaries for `status`, `cases` and `quarantine list`

Nothing here parses, decides or talks to a mailbox: callers pass values in.
"""
