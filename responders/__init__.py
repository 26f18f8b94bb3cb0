"""Decisions -> outgoing mail: templates, composing, the outbox sender, chases.

receipts.py    what intake queues without a person: acknowledgements, the secure-e-mail
               reply, bounces flagging an address
decisions.py   the Co-ordinator's decision and the one reply it queues
chasing.py     reminders and the escalation, planned in working days, stopped on an answer
sender.py      the outbox sender: compose once, send (DATA counted), file in Sent
transport.py   SMTP (smtplib) or a local Maildir (the demo)
replies.py     an outbox row -> the message: its context, template and headers
context.py     what a reply may say about its case, read from the records
wording.py     missing fields and form kinds in plain words
templates.py   Jinja2 templates, plain text and HTML (autoescaped) per reply kind, with an
               operator's folder looked up first; templates/ holds the built-in ones
compose.py     pure: the headers of every reply (threading, marking, Auto-Submitted, our
               Message-ID and loop header), the allow-list check, the per-recipient rate
settings.py    what the responders are told at start
"""
