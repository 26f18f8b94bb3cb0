"""The new text of a reply: quoted earlier messages cut away (pure).

An agency answering one of our requests writes a line or two above the quoted request. Our
request names the missing items in plain words, so reading the quotation as well could only
mislead; everything from the first quotation marker on is dropped:

* a line starting with ``>`` (RFC 3676 quoting);
* Outlook's ``-----Original Message-----`` or its ``From: ... / Sent: ...`` header block;
* a ``On <date>, <someone> wrote:`` attribution line (Gmail, Thunderbird, Apple Mail).
"""

from __future__ import annotations

import re

_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message)\s*-{2,}", re.I)
_WROTE = re.compile(r"^\s*on\b.{0,200}\bwrote:\s*$", re.I)
_OUTLOOK_FROM = re.compile(r"^\s*\*?from:\*?\s+\S", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date):\*?\s+\S", re.I)
# How far below "From:" Outlook's "Sent:" line may be (From, Sent, To, Cc, Subject).
_OUTLOOK_BLOCK_LINES = 3


def _starts_quote(lines: list[str], index: int) -> bool:
    line = lines[index]
    if line.lstrip().startswith(">") or _ORIGINAL.match(line) or _WROTE.match(line):
        return True
    if _OUTLOOK_FROM.match(line):
        following = lines[index + 1 : index + 1 + _OUTLOOK_BLOCK_LINES]
        return any(_OUTLOOK_NEXT.match(n) for n in following)
    return False


def cut_quoted(text: str) -> str:
    lines = text.splitlines()
    for index in range(len(lines)):
        if _starts_quote(lines, index):
            return "\n".join(lines[:index]).rstrip() + "\n"
    return text
