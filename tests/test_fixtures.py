"""Every fixture against its expected file, field by field, through the real CLI.

Two sets: the generated forms (``fixtures/forms``, ``fixtures/messages``), whose expected files
the generator writes from its ground truth, and the hand-made forms (``fixtures/handmade``),
laid out in ways the generator never produces, whose expected files were written by hand.
Neither comes from running the parsers, so these tests can fail. Each set must reach the same
bar, 99% of expected fields right, and meet every `check` expectation; the per-field accuracy
is printed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, Run

ACCURACY_BAR = 0.99
# One `check` run over many files at once: the process start (spaCy, pdfplumber) is paid once.
BATCH = 40


SETS = {
    "generated": ("forms", "messages"),
    "handmade": ("handmade",),
}


def _expected_files(which: str) -> list[Path]:
    return [
        path
        for folder in SETS[which]
        for path in sorted((FIXTURES / folder).glob("*.expected.json"))
    ]


def _document(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    matches = [p for p in expected.parent.glob(stem + ".*") if not p.name.endswith(".json")]
    assert len(matches) == 1, f"{expected}: document not found"
    return matches[0]


def _cases(expected: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, expectation) for every form the document should yield."""
    data = json.loads(expected.read_text())
    document = _document(expected)
    if "forms" in data:
        for form in data["forms"]:
            yield str(document.parent / form["source"]), form
    else:
        yield str(document), data


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _run_checks(
    cli: Callable[..., Run], documents: list[Path], received: dict[Path, str]
) -> dict[str, dict[str, Any]]:
    """`check --json` for every document, grouped by received date (one --received per run)."""
    results: dict[str, dict[str, Any]] = {}
    by_date: dict[str, list[Path]] = {}
    for document in documents:
        by_date.setdefault(received.get(document, ""), []).append(document)
    for when, group in by_date.items():
        for start in range(0, len(group), BATCH):
            args: list[str | Path] = ["check", "--json", *group[start : start + BATCH]]
            if when:
                args += ["--received", when]
            result = cli(*args, timeout=900)
            assert "Traceback" not in result.stderr, result.stderr
            for obj in result.json_lines():
                results[str(obj["source"])] = obj
    return results


Outcomes = tuple[list[tuple[str, dict[str, Any]]], dict[str, dict[str, Any]]]


@pytest.fixture(scope="module", params=sorted(SETS))
def outcomes(request: pytest.FixtureRequest) -> Outcomes:
    from tests.conftest import ROOT

    files = _expected_files(request.param)
    if not files:
        pytest.fail(f"no {request.param} fixtures")
    cases = [case for expected in files for case in _cases(expected)]
    received: dict[Path, str] = {}
    for expected in files:
        data = json.loads(expected.read_text())
        if "forms" not in data and data.get("received"):
            received[_document(expected)] = data["received"]
    import subprocess
    import sys

    def cli(*args: str | Path, timeout: float = 900) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    documents = [_document(e) for e in files]
    return cases, _run_checks(cli, documents, received)


def test_at_least_sixty_generated_and_three_handmade_forms() -> None:
    assert len(list((FIXTURES / "forms").glob("*.expected.json"))) >= 60
    assert len(_expected_files("handmade")) >= 3


def test_fields_match_expected(outcomes: Outcomes) -> None:
    cases, results = outcomes
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong: list[str] = []
    for source, expectation in cases:
        got = results.get(source)
        assert got is not None, f"{source}: no output"
        assert got["form_type"] == expectation["parse"]["form_type"], source
        fields = got["fields"]
        for name, value in expectation["parse"]["fields"].items():
            total[name] += 1
            found = fields.get(name, {}).get("value")
            if _normal(found) == _normal(value):
                right[name] += 1
            else:
                wrong.append(f"{Path(source).name} {name}: expected {value!r}, got {found!r}")
    accuracy = sum(right.values()) / max(1, sum(total.values()))
    print(f"\nper-field accuracy: {sum(right.values())}/{sum(total.values())} = {accuracy:.2%}")
    for name in sorted(total):
        if right[name] < total[name]:
            print(f"  {name:28} {right[name]}/{total[name]}")
    print("\n".join(wrong[:60]))
    assert accuracy >= ACCURACY_BAR, f"{len(wrong)} fields wrong"


def test_check_expectations_met(outcomes: Outcomes) -> None:
    cases, results = outcomes
    failures: list[str] = []
    for source, expectation in cases:
        got = results[source]
        want = expectation["check"]
        name = Path(source).name
        if got["complete"] != want["complete"] or got["missing"] != want["missing"]:
            failures.append(f"{name}: missing {got['missing']} != {want['missing']}")
        proposal = got["proposal"]
        if (proposal["outcome"], proposal["level"]) != (
            want["proposal"]["outcome"],
            want["proposal"]["level"],
        ):
            failures.append(
                f"{name}: proposal {proposal['outcome']}/{proposal['level']} != {want['proposal']}"
            )
        deadlines = [
            {k: d.get(k) for k in expected}
            for d, expected in zip(got["deadlines"], want["deadlines"], strict=False)
        ]
        if len(got["deadlines"]) != len(want["deadlines"]) or deadlines != want["deadlines"]:
            failures.append(f"{name}: deadlines {deadlines} != {want['deadlines']}")
    print("\n".join(failures))
    assert failures == []
