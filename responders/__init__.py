"""Decisions -> outgoing mail: templates, composing, transports, chase planning.

    compose.py     pure: the headers of every reply (threading, marking, Auto-Submitted, our
                   Message-ID and loop header), the allow-list check, the per-recipient rate
    templates.py   Jinja2 templates, plain text and HTML (autoescaped) per reply kind, with an
                   operator's folder looked up first; templates/ holds the built-in ones

Being built in issue 5: so far the acknowledgement and the information request have templates;
the other kinds, the outbox, the transports and the chases come next.
"""
