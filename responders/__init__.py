"""Decisions -> outgoing mail: templates, composing, transports, chase planning.

    compose.py    pure: the headers of every reply (threading, marking, Auto-Submitted, our
                  Message-ID and loop header), the allow-list check, the per-recipient rate

Being built in issue 5: templates, the outbox, transports and chases come next.
"""
