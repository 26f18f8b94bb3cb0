"""Errors of the parsers. One root, a few documented kinds; each message is one plain line
that says what is wrong with the document (the caller adds the file name), and a ``kind``
that intake uses as the quarantine kind.

    ParseError                      root: the document cannot be read
    ├── UnsupportedDocument         not a format we read (old binary .doc, an image, ...)
    ├── EncryptedDocument           password-protected PDF or Word file
    ├── MacroDocument               a Word document carrying macros (VBA)
    ├── LimitExceeded               too large, too many pages, a ZIP bomb, too slow
    └── CorruptDocument             the bytes claim a format but do not hold it
"""

from __future__ import annotations


class ParseError(Exception):
    """The document cannot be read. ``str(err)`` is one line naming the reason."""

    kind = "unreadable_document"


class UnsupportedDocument(ParseError):
    kind = "unsupported_document"


class EncryptedDocument(ParseError):
    kind = "encrypted"


class MacroDocument(ParseError):
    kind = "macro"


class LimitExceeded(ParseError):
    kind = "oversized"


class CorruptDocument(ParseError):
    kind = "unreadable_document"
