"""Decisions -> outgoing mail: templates, composing, transports, chase planning.

Not built yet: see issue 5.
"""
