"""Mailboxes -> stored, verified inbound messages (IMAP, Exchange, Maildir, sender trust).

Not built yet: see issue 4. The package exists so that the layout of the house is visible.
"""
