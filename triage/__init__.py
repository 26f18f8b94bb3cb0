"""Pure rules: completeness, Scottish working days, deadlines T1-T9, the proposed outcome.

No IO, no clock, no database: every function takes the dates and settings it needs.
"""
