"""The one place state lives: tables, sessions, migrations, query functions.

Not built yet: see issue 4.
"""
