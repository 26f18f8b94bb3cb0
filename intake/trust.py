"""Is this sender one we may take forms from? (pure; domain.md §9)

Two conditions, both needed:

1. the From address is in an allow-listed secure domain (or a sub-domain of one);
2. the **topmost** ``Authentication-Results`` header written by our own receiving server
   says DMARC passed for that domain, or, failing a DMARC result, that SPF and DKIM both
   passed for domains aligned with it. Only the topmost one counts: our server adds its
   header on top, so one further down was written before it (by the sender or a relay) and
   may say anything (RFC 8601 §5).

Which header is our receiving server's (``received_by``):

* ``own-server``: the topmost one naming our server's ``authserv_id``;
* ``exchange-online``: the topmost one of all, which must be in Exchange Online's own form
  (no authserv-id; intake/authresults.py). Exchange Online Protection adds it on top of every
  message it receives from outside, so a header a sender wrote sits below it. Mail sent inside
  the organisation carries no such result; Exchange marks it
  ``X-MS-Exchange-Organization-AuthAs: Internal``, and that header is one Exchange removes
  from every message arriving from outside (its "header firewall"), so only Exchange can
  have written it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from intake.authresults import AuthResults, MethodResult, parse
from intake.envelope import Headers, domain_of

OWN_SERVER = "own-server"
EXCHANGE_ONLINE = "exchange-online"
_AUTH_AS = "X-MS-Exchange-Organization-AuthAs"


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    allowed_domains: tuple[str, ...]
    authserv_id: str
    received_by: str = OWN_SERVER


@dataclass(frozen=True, slots=True)
class TrustVerdict:
    trusted: bool
    reason: str  # plain words: why not, or how it passed


def in_domain(domain: str, allowed: str) -> bool:
    return domain == allowed or domain.endswith("." + allowed)


def allowed_root(domain: str, policy: TrustPolicy) -> str | None:
    for allowed in policy.allowed_domains:
        if in_domain(domain, allowed.lower()):
            return allowed.lower()
    return None


def aligned(domain: str, other: str, policy: TrustPolicy) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): the same organisation. Our organisations are the
    allow-listed domains, so two domains align when one allow-listed domain holds both."""
    other = other.lower().rstrip(".")
    if in_domain(domain, other) or in_domain(other, domain):
        return True
    root = allowed_root(domain, policy)
    return root is not None and in_domain(other, root)


def ours_on_top(headers: Sequence[str], authserv_id: str) -> AuthResults | None:
    """The first (topmost) header written by ``authserv_id``; an unreadable one counts as
    ours and yields None, so a garbled header never lets a lower one speak instead."""
    for text in headers:
        found = parse(text)
        if found is None:
            if authserv_id.lower() in text.lower()[: len(authserv_id) + 40]:
                return None
            continue
        if found.authserv_id == authserv_id.lower():
            return found
    return None


def exchange_online_on_top(headers: Sequence[str]) -> AuthResults | None:
    """The topmost header, if it is readable and in Exchange Online's form (no authserv-id);
    else None: a header with an authserv-id on top was not written by Exchange Online."""
    if not headers:
        return None
    found = parse(headers[0])
    return found if found is not None and not found.authserv_id else None


def _sent_internally(headers: Headers) -> bool:
    marks = [str(v).strip().lower() for v in headers.raw.get_all(_AUTH_AS) or []]
    return marks == ["internal"]


def _passes(results: list[MethodResult], prop: str, domain: str, policy: TrustPolicy) -> bool:
    for result in results:
        if result.result != "pass":
            continue
        value = result.properties.get(prop, "")
        checked = domain_of(value) if value else ""
        if checked and aligned(domain, checked, policy):
            return True
    return False


def judge(headers: Headers, policy: TrustPolicy) -> TrustVerdict:
    senders = headers.from_addresses
    if len(senders) != 1:
        return TrustVerdict(False, f"message has {len(senders)} From addresses, not one")
    domain = domain_of(senders[0])
    if allowed_root(domain, policy) is None:
        return TrustVerdict(False, f"sender domain {domain} is not allow-listed")
    found = [str(v) for v in headers.raw.get_all("Authentication-Results") or []]
    if policy.received_by == EXCHANGE_ONLINE:
        if _sent_internally(headers):
            return TrustVerdict(True, "sent inside our Exchange Online organisation")
        results = exchange_online_on_top(found)
        if results is None:
            return TrustVerdict(False, "no readable Authentication-Results from Exchange Online")
        return _authenticated(results, domain, policy)
    results = ours_on_top(found, policy.authserv_id)
    if results is None:
        return TrustVerdict(False, f"no readable Authentication-Results from {policy.authserv_id}")
    return _authenticated(results, domain, policy)


def _authenticated(results: AuthResults, domain: str, policy: TrustPolicy) -> TrustVerdict:
    dmarc = results.of("dmarc")
    if dmarc:
        for result in dmarc:
            checked = result.properties.get("header.from", domain).lower()
            if result.result == "pass" and checked == domain:
                return TrustVerdict(True, "DMARC passed")
        return TrustVerdict(False, f"DMARC did not pass ({dmarc[0].result}) for {domain}")
    spf = _passes(results.of("spf"), "smtp.mailfrom", domain, policy) or _passes(
        results.of("spf"), "smtp.helo", domain, policy
    )
    dkim = _passes(results.of("dkim"), "header.d", domain, policy) or _passes(
        results.of("dkim"), "header.i", domain, policy
    )
    if spf and dkim:
        return TrustVerdict(True, "SPF and DKIM passed, aligned with the sender")
    failed = [name for name, ok in (("SPF", spf), ("DKIM", dkim)) if not ok]
    return TrustVerdict(
        False, f"no DMARC result, and {' and '.join(failed)} did not pass aligned with {domain}"
    )
