"""The real daemon configured for Exchange Online (``mailbox.kind = "graph"``): the settings,
the wiring and the msal token source end to end, against the loopback stand-ins for Entra ID
and Microsoft Graph, which answer with RECORDED response shapes (tests/intake/recordings/graph;
no Microsoft server runs here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.entra import CLIENT_ID, CLIENT_SECRET, MAILBOX_USER
from tests.intake.mail import exchange_online_results, fixture_message, with_headers
from tests.intake.rig_graph import graph_rig
from tests.intake.site import Site

pytestmark = pytest.mark.slow


def test_the_daemon_reads_an_exchange_online_mailbox(tmp_path: Path) -> None:
    with graph_rig(tmp_path) as rig:
        site = Site(tmp_path / "site", f"sqlite:///{tmp_path / 'mappa.db'}")
        site.settings["mailbox"] = {
            "kind": "graph",
            "address": MAILBOX_USER,
            "tenant_id": rig.entra.tenant_id,
            "client_id": CLIENT_ID,
            "client_secret_env": "MAPPA_TEST_ENTRA_SECRET",
            "authority_url": rig.entra.url,
            "graph_url": rig.graph.url,
            "ca_file": str(rig.entra.ca_file),
            "folder": "Inbox",
        }
        # Exchange Online receives the council's mail: its own header form is the one read.
        site.settings["senders"] = {"received_by": "exchange-online"}
        site.write_config()
        form = with_headers(
            fixture_message("notification-in-text-body.eml"),  # from Justice Social Work
            Authentication_Results=exchange_online_results("southlanarkshire.gov.uk"),
        )
        rig.deliver(with_headers(form, Message_ID="<graph-daemon.1@southlanarkshire.gov.uk>"))
        env = {"MAPPA_TEST_ENTRA_SECRET": CLIENT_SECRET}
        first = site.cli("run", "--once", extra_env=env)
        assert first.code == 0, first.stderr
        rig.deliver(with_headers(form, Message_ID="<graph-daemon.2@southlanarkshire.gov.uk>"))
        # Sent inside the council's tenant: no result, Exchange's internal mark.
        rig.deliver(
            with_headers(
                form,
                remove=("Authentication-Results",),
                X_MS_Exchange_Organization_AuthAs="Internal",
                Message_ID="<graph-daemon.3@southlanarkshire.gov.uk>",
            )
        )
        # A header in our own server's form is not Exchange Online's: quarantined.
        rig.deliver(
            with_headers(
                form,
                Authentication_Results="mx.southlanarkshire.gov.uk; dmarc=pass"
                " header.from=southlanarkshire.gov.uk",
                Message_ID="<graph-daemon.4@southlanarkshire.gov.uk>",
            )
        )
        second = site.cli("run", "--once", extra_env=env)  # a new process: the saved delta link
        assert second.code == 0, second.stderr
        cases = site.cli("cases", "--json").json_lines()
        messages = sorted(m for case in cases for m in case["messages"])  # type: ignore[union-attr]
        assert messages == [
            "<graph-daemon.1@southlanarkshire.gov.uk>",
            "<graph-daemon.2@southlanarkshire.gov.uk>",
            "<graph-daemon.3@southlanarkshire.gov.uk>",
        ]
        [held] = site.cli("quarantine", "list", "--json").json_lines()
        assert "Exchange Online" in str(held["reason"])
        assert (rig.count("inbox"), rig.count("processed")) == (0, 3)
        # The token's expiry is noted for status and /metrics (Entra gives 3599 s).
        [status] = site.cli("status", "--json").json_lines()
        [mailbox] = status["mailboxes"]  # type: ignore[misc]
        expires = datetime.fromisoformat(mailbox["token_expires"])
        assert timedelta(minutes=55) < expires - datetime.now(UTC) < timedelta(hours=1)
        refused = site.cli("run", "--once", extra_env={"MAPPA_TEST_ENTRA_SECRET": "wrong"})
        assert refused.code == 1
        assert "wrong" not in refused.stderr
