"""Parse speed, per format, against the bare libraries underneath.

    .venv/bin/python bench/parse.py [--rounds N] [--dir fixtures/forms]

Prints, per format: forms per second, p50/p95 milliseconds per form and the process's peak
RSS; then the ratio of our full `parse` (read, extract, normalise) to bare pdfplumber text
extraction of the same PDFs and to bare python-docx reading of the same Word files. Scanned
PDFs are timed apart (OCR dominates them). Each figure is the median of ``--rounds`` runs,
after one warm-up round that pays for imports and spaCy's start.
"""

from __future__ import annotations

import argparse
import io
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsers.api import ReadOptions, parse_bytes
from parsers.sniff import Kind, sniff


def _bare_pdfplumber(data: bytes) -> None:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            page.extract_text()


def _bare_pdfplumber_with_fields(data: bytes) -> None:
    """Text, plus the form-field walk of pdfplumber's README ("Extracting form values"):
    pdfplumber has no form API of its own, so this is the bare way to read a fillable PDF."""
    import pdfplumber
    from pdfminer.pdftypes import resolve1

    def walk(fields: list[object]) -> None:
        for ref in fields:
            field = resolve1(ref)
            _name, _value = field.get("T"), resolve1(field.get("V"))
            kids = resolve1(field.get("Kids"))
            if kids:
                walk(kids)

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        form = resolve1(pdf.doc.catalog.get("AcroForm"))
        walk(resolve1(form.get("Fields")) if form else [])
        for page in pdf.pages:
            page.extract_text()


def _bare_python_docx(data: bytes) -> None:
    import docx

    document = docx.Document(io.BytesIO(data))
    for paragraph in document.paragraphs:
        _ = paragraph.text
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                _ = cell.text


def _format_of(path: Path, data: bytes) -> str:
    kind = sniff(data, path.name)
    if kind is Kind.PDF:
        import pdfplumber

        with pdfplumber.open(io.BytesIO(data)) as pdf:
            has_text = any(page.chars for page in pdf.pages)
            fillable = bool(pdf.doc.catalog.get("AcroForm"))
        if not has_text:
            return "pdf-scan"
        return "pdf-fillable" if fillable else "pdf-text"
    return str(kind)


def _time(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("fixtures/forms"))
    parser.add_argument("--messages", type=Path, default=Path("fixtures/messages"))
    parser.add_argument("--skip-scans", action="store_true", help="do not time OCR")
    args = parser.parse_args(argv)
    options = ReadOptions(reference_year=date.today().year)
    files = sorted(p for p in args.dir.iterdir() if not p.name.endswith(".json"))
    files += sorted(args.messages.glob("*.eml"))
    by_format: dict[str, list[tuple[Path, bytes]]] = {}
    for path in files:
        data = path.read_bytes()
        by_format.setdefault(_format_of(path, data), []).append((path, data))

    cpu = platform.processor() or "cpu"
    print(f"machine: {platform.machine()}, {cpu}, Python {platform.python_version()}")
    print(f"date: {date.today().isoformat()}, rounds: {args.rounds}\n")
    print(f"{'format':<14}{'forms':>6}{'forms/s':>10}{'p50 ms':>10}{'p95 ms':>10}")
    ours: dict[str, float] = {}
    for name, entries in sorted(by_format.items()):
        if name == "pdf-scan" and args.skip_scans:
            continue
        rounds = 1 if name == "pdf-scan" else args.rounds
        for path, data in entries[:1]:
            parse_bytes(data, path.name, str(path), options)  # warm-up: imports, spaCy
        times = [
            _time(partial(parse_bytes, data, path.name, str(path), options), rounds)
            for path, data in entries
        ]
        ours[name] = sum(times)
        print(
            f"{name:<14}{len(entries):>6}{len(times) / sum(times):>10.1f}"
            f"{_percentile(times, 0.5) * 1000:>10.1f}{_percentile(times, 0.95) * 1000:>10.1f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak:.0f} MB\n")
    _ratios(by_format, options, args.rounds)
    return 0


def _ratios(
    by_format: dict[str, list[tuple[Path, bytes]]], options: ReadOptions, rounds: int
) -> None:
    comparisons = (
        ("pdf-text", "bare pdfplumber extract_text", _bare_pdfplumber),
        ("pdf-fillable", "bare pdfplumber extract_text", _bare_pdfplumber),
        ("pdf-fillable", "bare pdfplumber text + README field walk", _bare_pdfplumber_with_fields),
        ("docx", "bare python-docx reading", _bare_python_docx),
    )
    for name, label, bare in comparisons:
        entries = by_format.get(name, [])
        if not entries:
            continue
        for _path, data in entries[:1]:
            bare(data)
        ours = sum(
            _time(partial(parse_bytes, data, path.name, str(path), options), rounds)
            for path, data in entries
        )
        base = sum(_time(partial(bare, data), rounds) for _path, data in entries)
        print(
            f"{name:<14} ours {ours * 1000:8.1f} ms  vs {label} {base * 1000:8.1f} ms"
            f"  ratio {ours / base:.2f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
