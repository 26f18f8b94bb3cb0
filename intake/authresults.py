"""RFC 8601 ``Authentication-Results`` headers, parsed into plain values (pure).

    Authentication-Results: mx.example.gov.uk;
        dkim=pass header.d=police.scot header.s=s1;
        spf=pass smtp.mailfrom=officer@police.scot;
        dmarc=pass (p=quarantine) header.from=police.scot

Comments (in parentheses) are dropped, quoted strings kept whole; anything the grammar does
not allow makes the header unusable (``None``), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class MethodResult:
    method: str  # "dmarc", "spf", "dkim", ...
    result: str  # "pass", "fail", "none", ...
    properties: dict[str, str] = field(default_factory=dict)  # "header.from" -> "police.scot"


@dataclass(frozen=True, slots=True)
class AuthResults:
    authserv_id: str
    results: tuple[MethodResult, ...]

    def of(self, method: str) -> list[MethodResult]:
        return [r for r in self.results if r.method == method]


def _strip_comments(text: str) -> str | None:
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return None
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return None if depth or quoted else "".join(out)


def _split(text: str, separator: str | None) -> list[str]:
    """Split outside quoted strings (``None``: on runs of white space)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        is_sep = char.isspace() if separator is None else char == separator
        if is_sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()] if separator is None else parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _method(text: str) -> MethodResult | None:
    tokens = _split(text.replace(" =", "=").replace("= ", "="), None)
    if not tokens or "=" not in tokens[0]:
        return None
    method, result = tokens[0].split("=", 1)
    method = method.split("/", 1)[0].strip().lower()  # "dkim/1" -> "dkim"
    properties: dict[str, str] = {}
    for token in tokens[1:]:
        if "=" not in token:
            continue  # tolerated: stray words some servers emit
        name, value = token.split("=", 1)
        properties[name.strip().lower()] = _unquote(value.strip())
    if not method or not result:
        return None
    return MethodResult(method, _unquote(result).lower(), properties)


def parse(header: str) -> AuthResults | None:
    text = _strip_comments(" ".join(header.split()))
    if text is None:
        return None
    pieces = _split(text, ";")
    head = pieces[0].split()
    if not head:
        return None
    results: list[MethodResult] = []
    for piece in pieces[1:]:
        if not piece.strip() or piece.strip().lower() == "none":
            continue
        found = _method(piece.strip())
        if found is None:
            return None
        results.append(found)
    return AuthResults(_unquote(head[0]).lower(), tuple(results))
