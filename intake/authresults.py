"""RFC 8601 ``Authentication-Results`` headers, parsed into plain values (pure).

    Authentication-Results: mx.example.gov.uk;
        dkim=pass header.d=police.scot header.s=s1;
        spf=pass smtp.mailfrom=officer@police.scot;
        dmarc=pass (p=quarantine) header.from=police.scot

Comments (in parentheses) are dropped, quoted strings kept whole; anything the grammar does
not allow makes the header unusable (``None``), never an exception.

Exchange Online (Exchange Online Protection) writes its header without the authserv-id that
RFC 8601 requires, and with two more departures from the grammar::

    Authentication-Results: spf=pass (sender IP is 192.0.2.25)
        smtp.mailfrom=police.scot; southlanarkshire.gov.uk; dkim=pass (signature was
        verified) header.d=police.scot;dmarc=pass action=none
        header.from=police.scot;compauth=pass reason=100

A header that opens with a result is read with an empty ``authserv_id``; a lone word between
semicolons (the receiving domain) is passed over, and a piece that is only properties
(``header.from=...`` after a stray semicolon) belongs to the result before it. These readings
can only find results the header states: a result that is not "pass" stays one.
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
    _properties(tokens[1:], properties)
    if not method or not result:
        return None
    return MethodResult(method, _unquote(result).lower(), properties)


def _properties(tokens: list[str], into: dict[str, str]) -> None:
    for token in tokens:
        if "=" not in token:
            continue  # tolerated: stray words some servers emit ("action=none" is kept)
        name, value = token.split("=", 1)
        into[name.strip().lower()] = _unquote(value.strip())


def parse(header: str) -> AuthResults | None:
    text = _strip_comments(" ".join(header.split()))
    if text is None:
        return None
    pieces = _split(text, ";")
    head = pieces[0].split()
    if not head:
        return None
    if "=" in head[0]:  # no authserv-id: Exchange Online's form
        authserv_id, rest = "", pieces
    else:
        authserv_id, rest = _unquote(head[0]).lower(), pieces[1:]
    results: list[MethodResult] = []
    for piece in rest:
        words = piece.split()
        if not words or (len(words) == 1 and "=" not in words[0]):
            continue  # empty, "none", or a lone domain between semicolons
        if results and _is_property(words[0]):
            _properties(words, results[-1].properties)
            continue
        found = _method(piece.strip())
        if found is None:
            return None
        results.append(found)
    return AuthResults(authserv_id, tuple(results))


def _is_property(word: str) -> bool:
    """``header.from=...``: a ptype.property (method names have no dot)."""
    name = word.split("=", 1)[0]
    return "=" in word and "." in name
