"""axe-core, the accessibility engine the browser tests run on every console page (WCAG 2.2
A and AA rules, contrast among them).

It comes from the npm registry, pinned by version and SHA-256: ``make test`` runs
``python -m tests.console.axe`` once, which downloads the package, checks its hash, and keeps
``axe.min.js`` under the virtualenv (a package registry is the one network source allowed).
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

VERSION = "4.14.1"
URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
SHA256 = "e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745"
SCRIPT = Path(sys.prefix) / "share" / "axe-core" / VERSION / "axe.min.js"
# The rules the console must pass: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def fetch() -> Path:
    if SCRIPT.exists():
        return SCRIPT
    with urllib.request.urlopen(URL, timeout=60) as answer:
        package = answer.read()
    found = hashlib.sha256(package).hexdigest()
    if found != SHA256:
        raise SystemExit(f"axe-core {VERSION}: SHA-256 {found}, expected {SHA256}")
    with tarfile.open(fileobj=io.BytesIO(package)) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        script = member.read()
    SCRIPT.parent.mkdir(parents=True, exist_ok=True)
    SCRIPT.write_bytes(script)
    return SCRIPT


def violations(page: Any) -> list[str]:
    """axe's findings on the page as shown, one line each ("rule (impact): element").

    The script is evaluated through the DevTools protocol, which the page's CSP (no inline
    script) does not govern, so the console is checked with its real headers."""
    if not SCRIPT.exists():
        raise AssertionError(f"{SCRIPT} is missing: `make test` fetches it")
    page.wait_for_load_state()  # the stylesheet applied: sizes and contrast as drawn
    page.evaluate(SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.flatMap(v => v.nodes.map(
                n => `${v.id} (${v.impact}): ${n.target.join(" ")}`));
        }""",
        TAGS,
    )
    return [str(line) for line in found]


if __name__ == "__main__":
    print(fetch())
