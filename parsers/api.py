"""The parsers' front door: a file or bytes in, parsed forms out.

    parse_path(path, options)               -> list[ParsedForm]   (raises ParseError)
    parse_bytes(data, name, source, options) -> list[ParsedForm]

A document yields one form; an e-mail one per form it carries. Everything here is bounded by
``Limits``: size before reading, pages, decompressed size, and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from parsers.errors import LimitExceeded, ParseError
from parsers.extract import extract
from parsers.limits import MIB, Limits, time_limit
from parsers.model import ParsedForm
from parsers.sniff import Kind, sniff

if TYPE_CHECKING:
    from parsers.eml import SplitMessage


@dataclass(frozen=True, slots=True)
class ReadOptions:
    # Two-digit years ("7.3.84") are read against this year; the caller passes today's year,
    # so that the parsers themselves never read a clock.
    reference_year: int
    limits: Limits = field(default_factory=Limits)
    # Reading an agency's answer to one of our requests: any named field counts (the answer
    # may be one line), and the quoted earlier messages are cut from the body first.
    answer: bool = False


def parse_path(path: Path, options: ReadOptions) -> list[ParsedForm]:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ParseError(f"cannot read file: {err.strerror or err}") from err
    _check_size(size, options.limits)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ParseError(f"cannot read file: {err.strerror or err}") from err
    with time_limit(options.limits.max_seconds, "document"):
        return parse_bytes(data, path.name, str(path), options)


def parse_split(split: SplitMessage, source: str, options: ReadOptions) -> list[ParsedForm]:
    """The forms of an e-mail the caller has already split (``parsers.eml.split_message``)."""
    from parsers.eml import read_split

    def read_part(part: bytes, part_name: str, part_source: str) -> list[ParsedForm]:
        # A forwarded message attached whole (.eml) is read like the outer one.
        return parse_bytes(part, part_name, part_source, options)

    return read_split(split, source, read_part, answer=options.answer)


def _check_size(size: int, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise LimitExceeded(
            f"file is {size / MIB:.1f} MB, over the {limits.max_file_bytes / MIB:.0f} MB limit"
        )


def parse_bytes(data: bytes, name: str, source: str, options: ReadOptions) -> list[ParsedForm]:
    _check_size(len(data), options.limits)
    kind = sniff(data, name)
    if kind is Kind.EML:
        from parsers.eml import split_message

        return parse_split(split_message(data, options.limits), source, options)
    from parsers.readers import READERS

    try:
        raw = READERS[kind].read(data, limits=options.limits)
    except MemoryError as err:
        raise LimitExceeded("document needs more memory than allowed") from err
    return [extract(raw, source=source, reference_year=options.reference_year)]
