"""What a document really is, from its bytes: the name and the MIME type are only claims.

An old binary Word file renamed ``.docx``, a web page saved as ``.pdf`` or an empty attachment
must each get a plain reason, not a parser's stack trace.
"""

from __future__ import annotations

import re
from enum import StrEnum

from parsers.errors import CorruptDocument, EncryptedDocument, UnsupportedDocument


class Kind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    EML = "eml"
    TEXT = "text"
    HTML = "html"
    IMAGE = "image"


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An OOXML file encrypted with a password is stored inside an OLE2 container under this name.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"GIF8")
# The PDF header may follow a little junk; readers accept it within the first kilobyte.
PDF_HEADER_WINDOW = 1024
_MAIL_HEADER = re.compile(
    rb"^(received|return-path|from|to|subject|date|message-id|mime-version|delivered-to|"
    rb"x-[a-z0-9-]+|authentication-results|dkim-signature|arc-[a-z-]+):",
    re.I,
)
# Names we give e-mail bodies: a body that starts "From: ..." is still a body, not a message.
_TEXT_NAMES = (".txt", ".htm", ".html")
_HTML = re.compile(rb"<\s*(html|body|table|div|p|!doctype)\b", re.I)


def sniff(data: bytes, name: str) -> Kind:
    """The kind of document; raises ``ParseError`` with the reason when it is none we read."""
    lower = name.lower()
    if not data.strip():
        raise CorruptDocument("empty file")
    if b"%PDF-" in data[:PDF_HEADER_WINDOW]:
        return Kind.PDF
    if data.startswith(b"PK\x03\x04"):
        return Kind.DOCX
    if data.startswith(_OLE2):
        if _ENCRYPTED_PACKAGE in data:
            raise EncryptedDocument(
                "password-protected Word document: ask for it without a password"
            )
        raise UnsupportedDocument(
            "old binary Word (.doc) or other Office 97-2003 file: ask for .docx or PDF"
        )
    if data.startswith(_IMAGES):
        return Kind.IMAGE
    if lower.endswith(".pdf"):
        raise CorruptDocument("not a PDF: the file does not start with %PDF")
    if lower.endswith((".docx", ".docm", ".dotx")):
        raise CorruptDocument("not a Word document: the file is not a ZIP package")
    if b"\x00" in data[:8192]:
        raise UnsupportedDocument("unrecognised binary file")
    looks_like_mail = _MAIL_HEADER.match(data.lstrip()[:200]) is not None
    if lower.endswith(".eml") or (looks_like_mail and not lower.endswith(_TEXT_NAMES)):
        return Kind.EML
    if lower.endswith((".htm", ".html")) or _HTML.search(data[:2048]):
        return Kind.HTML
    return Kind.TEXT


def decode_text(data: bytes) -> str:
    """Text as sent: UTF-8 (with or without a BOM), else Windows-1252, which Outlook uses."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
