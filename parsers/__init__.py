"""Documents -> a parsed form: per-field value, confidence and evidence.

Pure: no database, no mailbox, no clock. ``parsers.api.parse_file`` and
``parsers.api.parse_bytes`` are the entry points; each format has one reader behind the
``FormReader`` protocol (``parsers.model``), and one shared extractor turns what a reader found
into named, normalised fields (``parsers.extract``).
"""
