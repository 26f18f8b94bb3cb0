"""Sender trust: allow-listed domain and our server's topmost Authentication-Results."""

from __future__ import annotations

import pytest

from intake.authresults import parse
from intake.envelope import read_headers
from intake.trust import EXCHANGE_ONLINE, TrustPolicy, judge
from tests.intake.mail import AUTHSERV, exchange_online_results, simple_message

POLICY = TrustPolicy(
    allowed_domains=("police.scot", "sps.gov.uk", "nhs.scot"), authserv_id=AUTHSERV
)
OFFICER = "Ailsa Brodie <ailsa.brodie@police.scot>"


def _verdict(raw: bytes) -> tuple[bool, str]:
    verdict = judge(read_headers(raw), POLICY)
    return verdict.trusted, verdict.reason


def _message(*results: str, sender: str = OFFICER) -> bytes:
    """A message whose Authentication-Results headers are ``results``, topmost first."""
    raw = simple_message(sender=sender, authenticated=False)
    for text in reversed(results):
        raw = _on_top(raw, text)
    return raw


def _on_top(raw: bytes, header: str) -> bytes:
    return f"Authentication-Results: {header}\r\n".encode() + raw


@pytest.mark.parametrize(
    ("results", "sender", "trusted", "reason"),
    [
        ([f"{AUTHSERV}; dmarc=pass header.from=police.scot"], OFFICER, True, "DMARC passed"),
        (
            [
                f"{AUTHSERV}; spf=pass smtp.mailfrom=bounces@mail.police.scot;"
                " dkim=pass header.d=police.scot"
            ],
            OFFICER,
            True,
            "SPF and DKIM",
        ),
        (
            [f"{AUTHSERV}; dmarc=pass header.from=police.scot"],
            "X <x@fakepolice.scot>",
            False,
            "not allow-listed",
        ),
        (
            [f"{AUTHSERV}; dmarc=pass header.from=example.com"],
            "Someone <someone@example.com>",
            False,
            "not allow-listed",
        ),
        ([f"{AUTHSERV}; dmarc=fail header.from=police.scot"], OFFICER, False, "DMARC did not pass"),
        (
            [
                f"{AUTHSERV}; dmarc=fail header.from=police.scot",
                f"{AUTHSERV}; dmarc=pass header.from=police.scot",
            ],
            OFFICER,
            False,
            "DMARC did not pass",
        ),
        (
            [
                "relay.example.net; dmarc=pass header.from=police.scot",
                f"{AUTHSERV}; dmarc=none header.from=police.scot",
            ],
            OFFICER,
            False,
            "DMARC did not pass",
        ),
        (["relay.example.net; dmarc=pass header.from=police.scot"], OFFICER, False, "no readable"),
        ([], OFFICER, False, "no readable"),
        (
            [f"{AUTHSERV}; spf=pass smtp.mailfrom=police.scot; dkim=pass header.d=example.com"],
            OFFICER,
            False,
            "DKIM did not pass aligned",
        ),
        (
            [f"{AUTHSERV}; spf=fail smtp.mailfrom=police.scot; dkim=pass header.d=police.scot"],
            OFFICER,
            False,
            "SPF did not pass",
        ),
        (
            [f"{AUTHSERV} (our MX); dmarc=pass (p=reject) header.from=custody.police.scot"],
            "Desk <desk@custody.police.scot>",
            True,
            "DMARC passed",
        ),
    ],
    ids=[
        "dmarc pass",
        "spf and dkim aligned without dmarc",
        "look-alike domain",
        "domain not allow-listed",
        "dmarc fail",
        "forged pass below ours is ignored",
        "another server's pass above ours is ignored",
        "only another server's header",
        "no header at all",
        "dkim of another domain",
        "spf fail",
        "sub-domain with comments",
    ],
)
def test_trust(results: list[str], sender: str, trusted: bool, reason: str) -> None:
    got, why = _verdict(_message(*results, sender=sender))
    assert got is trusted
    assert reason in why


def test_two_from_addresses_are_not_trusted() -> None:
    raw = _message(
        f"{AUTHSERV}; dmarc=pass header.from=police.scot", sender=f"{OFFICER}, b@police.scot"
    )
    assert _verdict(raw) == (False, "message has 2 From addresses, not one")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'mx.example; dkim=pass (good) header.d=a.org header.s="sel 1";'
            " spf=pass smtp.mailfrom=b@a.org",
            (
                "mx.example",
                [
                    ("dkim", "pass", {"header.d": "a.org", "header.s": "sel 1"}),
                    ("spf", "pass", {"smtp.mailfrom": "b@a.org"}),
                ],
            ),
        ),
        ("mx.example 1; none", ("mx.example", [])),
        (
            # Exchange Online: no authserv-id, the receiving domain alone between semicolons,
            # and a result's property after a stray semicolon.
            "spf=pass (sender IP is 192.0.2.25) smtp.mailfrom=police.scot;"
            " southlanarkshire.gov.uk; dkim=pass (signature was verified)"
            " header.d=police.scot;dmarc=pass action=none;"
            " header.from=police.scot;compauth=pass reason=100",
            (
                "",
                [
                    ("spf", "pass", {"smtp.mailfrom": "police.scot"}),
                    ("dkim", "pass", {"header.d": "police.scot"}),
                    ("dmarc", "pass", {"action": "none", "header.from": "police.scot"}),
                    ("compauth", "pass", {"reason": "100"}),
                ],
            ),
        ),
        ("mx.example; dmarc=pass (unclosed", None),
        ("", None),
    ],
    ids=[
        "two methods with comment and quotes",
        "none with version",
        "exchange online's form",
        "unclosed comment",
        "empty",
    ],
)
def test_parse_authentication_results(header: str, expected: object) -> None:
    parsed = parse(header)
    if expected is None:
        assert parsed is None
        return
    assert parsed is not None
    assert (
        parsed.authserv_id,
        [(r.method, r.result, r.properties) for r in parsed.results],
    ) == expected


# -- mail received by Exchange Online -----------------------------------------------------

EXO = TrustPolicy(
    allowed_domains=("police.scot", "southlanarkshire.gov.uk"),
    authserv_id=AUTHSERV,
    received_by=EXCHANGE_ONLINE,
)
EXO_PASS = exchange_online_results()
EXO_FAIL = (
    "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=police.scot; dkim=none (message"
    " not signed) header.d=none;dmarc=fail action=oreject header.from=police.scot;compauth=fail"
    " reason=000"
)
COLLEAGUE = "Rhona Baird <rhona.baird@southlanarkshire.gov.uk>"
INTERNAL = "X-MS-Exchange-Organization-AuthAs: Internal"


def _exo_verdict(*results: str, sender: str = OFFICER, extra: tuple[str, ...] = ()) -> str:
    raw = _message(*results, sender=sender)
    for header in extra:
        raw = f"{header}\r\n".encode() + raw
    verdict = judge(read_headers(raw), EXO)
    return ("trusted: " if verdict.trusted else "untrusted: ") + verdict.reason


@pytest.mark.parametrize(
    ("results", "sender", "extra", "expected"),
    [
        ([EXO_PASS], OFFICER, (), "trusted: DMARC passed"),
        ([EXO_FAIL, EXO_PASS], OFFICER, (), "untrusted: DMARC did not pass (fail) for police.scot"),
        (
            [exchange_online_results(dmarc="bestguesspass")],
            OFFICER,
            (),
            "untrusted: DMARC did not pass (bestguesspass) for police.scot",
        ),
        (
            # A header with an authserv-id on top was not written by Exchange Online.
            [f"{AUTHSERV}; dmarc=pass header.from=police.scot", EXO_PASS],
            OFFICER,
            (),
            "untrusted: no readable Authentication-Results from Exchange Online",
        ),
        ([], OFFICER, (), "untrusted: no readable Authentication-Results from Exchange Online"),
        ([], COLLEAGUE, (INTERNAL,), "trusted: sent inside our Exchange Online organisation"),
        (
            [],
            COLLEAGUE,
            ("X-MS-Exchange-Organization-AuthAs: Anonymous",),
            "untrusted: no readable Authentication-Results from Exchange Online",
        ),
        (
            [],
            COLLEAGUE,
            (INTERNAL, "X-MS-Exchange-Organization-AuthAs: Anonymous"),
            "untrusted: no readable Authentication-Results from Exchange Online",
        ),
        (
            [],
            "Pat Gowan <pat.gowan@example.com>",
            (INTERNAL,),
            "untrusted: sender domain example.com is not allow-listed",
        ),
    ],
    ids=[
        "dmarc pass",
        "forged pass below exchange online's fail",
        "best-guess pass is not a pass",
        "another server's header on top",
        "no header",
        "internal mail",
        "anonymous is not internal",
        "two marks",
        "internal but not allow-listed",
    ],
)
def test_trust_of_mail_received_by_exchange_online(
    results: list[str], sender: str, extra: tuple[str, ...], expected: str
) -> None:
    assert _exo_verdict(*results, sender=sender, extra=extra) == expected


def test_our_own_server_ignores_exchange_online_headers_and_marks() -> None:
    raw = f"{INTERNAL}\r\n".encode() + _message(EXO_PASS)
    verdict = judge(read_headers(raw), POLICY)
    assert (verdict.trusted, verdict.reason) == (
        False,
        f"no readable Authentication-Results from {AUTHSERV}",
    )
