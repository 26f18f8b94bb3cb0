"""Bounds on what one document may cost to read, so that no input can take unbounded
memory or time. Each is a setting (``[limits]`` in the configuration); these are defaults.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    # Secure e-mail gateways commonly cap messages at 20-35 MB; a form with its supporting
    # documents is a few MB. Anything larger is refused before it is read.
    max_file_bytes: int = 25 * MIB
    # The national forms run to 4-8 pages; a scan of one with appendices to perhaps 30.
    max_pages: int = 60
    # A DOCX is a ZIP: the sum of its declared uncompressed sizes may not exceed this ...
    max_decompressed_bytes: int = 100 * MIB
    # ... nor may any member expand more than this ratio (XML compresses 10-30x; bombs 1000x+).
    max_compression_ratio: int = 200
    # Wall-clock budget for reading one document (PDF layout analysis is pure Python).
    max_seconds: float = 60.0
    # An e-mail with more parts than this is refused rather than walked.
    max_mime_parts: int = 200
    # OCR of an image-only PDF: at most this many pages are recognised.
    max_ocr_pages: int = 10


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Stop reading one document after ``seconds``: PDF layout analysis is pure Python, so a
    hostile file could otherwise keep it busy for ever. Works in the main thread only (it uses
    SIGALRM); elsewhere the caller must bound time itself, e.g. in a worker process."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        from parsers.errors import LimitExceeded

        raise LimitExceeded(f"{what} took longer than {seconds:g} s to read")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
