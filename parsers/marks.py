"""Checkboxes written as text: "☒ Category 1 (RSO)  ☐ Category 3", "[X] Yes [ ] No",
"Yes ☒ No ☐". Word checkbox controls and PDF checkbox fields arrive here too, once their
reader has turned them into the same glyphs or into ``Mark`` items.
"""

from __future__ import annotations

import re

CHECKED_GLYPHS = "☒☑✓✔■▣⊠"
UNCHECKED_GLYPHS = "☐□▢"
# "[X]", "[x]", "[✓]" are ticked; "[ ]" and "[]" are not.
_BOX = rf"[{CHECKED_GLYPHS}{UNCHECKED_GLYPHS}]|\[\s*[xX✓✔*]?\s*\]|\(\s*[xX✓✔*]?\s*\)"
_BOX_RE = re.compile(_BOX)


def has_boxes(text: str) -> bool:
    return _BOX_RE.search(text) is not None


def _is_checked(box: str) -> bool:
    return box[0] in CHECKED_GLYPHS or bool(re.search(r"[xX✓✔*]", box))


def marks_in_text(text: str) -> list[tuple[str, bool]]:
    """The options of a line of checkboxes, each with whether it is ticked.

    The box may stand before its option ("☒ Yes ☐ No") or after it ("Yes ☒ No ☐"); which one
    is decided by where the first box sits.
    """
    boxes = list(_BOX_RE.finditer(text))
    if not boxes:
        return []
    before = not text[: boxes[0].start()].strip()
    options: list[tuple[str, bool]] = []
    for n, box in enumerate(boxes):
        if before:
            end = boxes[n + 1].start() if n + 1 < len(boxes) else len(text)
            option = text[box.end() : end]
        else:
            start = boxes[n - 1].end() if n else 0
            option = text[start : box.start()]
        option = option.strip(" \t\n,;/|:-–")
        if option:
            options.append((option, _is_checked(box.group())))
    return options


def checked_options(text: str) -> list[str]:
    return [option for option, ticked in marks_in_text(text) if ticked]
