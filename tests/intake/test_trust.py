"""Sender trust: allow-listed domain and our server's topmost Authentication-Results."""

from __future__ import annotations

import pytest

from intake.authresults import parse
from intake.envelope import read_headers
from intake.trust import TrustPolicy, judge
from tests.intake.mail import AUTHSERV, simple_message

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
        ("mx.example; dmarc=pass (unclosed", None),
        ("", None),
    ],
    ids=["two methods with comment and quotes", "none with version", "unclosed comment", "empty"],
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
