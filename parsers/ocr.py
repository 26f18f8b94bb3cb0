"""Scanned forms: an image-only PDF or an image, read with tesseract when it is installed.

Tesseract is a Debian package (``tesseract-ocr``), run as a separate process: nothing is
downloaded, and a stuck recognition is killed by its timeout. Without it, the caller reports
"no text layer: needs OCR" and the Co-ordinator reads the scan.
"""

from __future__ import annotations

import io
import shutil
import subprocess

from parsers.errors import LimitExceeded, ParseError
from parsers.limits import Limits
from parsers.lines import items_from_lines, text_lines
from parsers.model import Origin, RawDocument

# 300 dpi is what tesseract is trained for; lower loses small print, higher only costs time.
OCR_DPI = 300
PDF_POINTS_PER_INCH = 72
# Keep column gaps as runs of spaces, so that "Surname    MACLEOD" splits into label and value.
_TESSERACT_ARGS = ("-l", "eng", "--psm", "4", "-c", "preserve_interword_spaces=1")
OCR_SECONDS_PER_PAGE = 60


def tesseract() -> str | None:
    return shutil.which("tesseract")


def _recognise(png: bytes, program: str) -> str:
    try:
        done = subprocess.run(
            [program, "stdin", "stdout", *_TESSERACT_ARGS],
            input=png,
            capture_output=True,
            timeout=OCR_SECONDS_PER_PAGE,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise LimitExceeded(f"OCR took longer than {OCR_SECONDS_PER_PAGE} s on one page") from err
    if done.returncode != 0:
        raise ParseError("OCR failed: " + done.stderr.decode("utf-8", "replace").strip()[:120])
    return done.stdout.decode("utf-8", "replace")


def ocr_pdf(data: bytes, max_pages: int, program: str) -> str:
    """The recognised text of the first ``max_pages`` pages, pages separated by blank lines."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        texts = []
        for index in range(min(len(document), max_pages)):
            page = document[index]
            image = page.render(scale=OCR_DPI / PDF_POINTS_PER_INCH, grayscale=True).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            texts.append(_recognise(buffer.getvalue(), program))
        return "\n\n".join(texts)
    finally:
        document.close()


def ocr_image(data: bytes, program: str) -> str:
    return _recognise(data, program)


class ImageFormReader:
    """A form sent as a photograph or scan (PNG, JPEG, TIFF)."""

    def read(self, data: bytes, *, limits: Limits) -> RawDocument:
        document = RawDocument()
        program = tesseract()
        if program is None:
            document.warnings.append(
                "image with no text: needs OCR; install tesseract-ocr to read it"
            )
            return document
        document.text = ocr_image(data, program)
        lines = text_lines(document.text, Origin.OCR, "ocr line")
        document.items = items_from_lines(lines, Origin.OCR)
        document.warnings.append("image read by OCR, check each value against the image")
        return document
