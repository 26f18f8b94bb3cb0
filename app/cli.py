"""The ``mappa-intake`` command line.

Only argparse is imported at start: each command imports what it uses when it runs, so
``--help`` is instant and ``parse`` never loads a database or a web framework.

Exit codes (contract.md): 0 success; 1 a form was read but something in it is wrong; 2 bad usage
or an unreadable input, with one line on stderr naming the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.exits import EXIT_OK, EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


# records.tables.Role's values, written out so that --help loads no database code
# (tests/app/test_cli.py keeps the two in step).
ROLES = ("coordinator", "deputy", "administrator", "read_only")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mappa-intake", description="Secure-email intake and triage of MAPPA forms."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    parse = commands.add_parser("parse", help="read forms and print the extracted fields")
    _document_options(parse)

    check = commands.add_parser(
        "check", help="parse, then completeness, timescales and the proposed outcome"
    )
    _document_options(check)
    check.add_argument(
        "--received",
        metavar="DATETIME",
        help="when the forms were received (default: the e-mail's date, else now)",
    )

    demo = commands.add_parser(
        "demo", help="the daemon on embedded defaults, fed the sample messages (./var/)"
    )
    demo.add_argument("--once", action="store_true", help="exit after the first pass")
    demo.add_argument("--port", type=int, default=8080, help="the console's port (default 8080)")

    run = commands.add_parser("run", help="the daemon: watch the mailbox, make cases")
    _config_option(run)
    run.add_argument("--once", action="store_true", help="work through what is waiting, then exit")
    run.add_argument(
        "--now", metavar="DATETIME", help="set the clock (replaying and testing timescales)"
    )

    status = commands.add_parser("status", help="what is waiting, quarantined, and last read")
    _config_option(status)
    status.add_argument("--json", action="store_true", help="one JSON object")

    cases = commands.add_parser("cases", help="the cases")
    _config_option(cases)
    cases.add_argument(
        "--state",
        choices=["awaiting_decision", "awaiting_information", "decided", "closed"],
        help="only cases in this state",
    )
    cases.add_argument("--json", action="store_true", help="one JSON object per case")

    quarantine = commands.add_parser("quarantine", help="held messages and their reasons")
    quarantine_commands = quarantine.add_subparsers(
        dest="quarantine_command", required=True, parser_class=_Parser
    )
    listing = quarantine_commands.add_parser("list", help="held messages with their reasons")
    _config_option(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per message")
    for name, text in (
        ("release", "take a held message, skipping the sender checks (a person vouches)"),
        ("reprocess", "run a held message through the whole intake again"),
    ):
        action = quarantine_commands.add_parser(name, help=text)
        action.add_argument("id", type=int, metavar="ID", help="the entry's id (quarantine list)")
        _config_option(action)

    decide = commands.add_parser(
        "decide", help="record the Co-ordinator's decision on a case and queue its reply"
    )
    decide.add_argument("ref", metavar="REF", help="the case reference, e.g. MAPPA-2026-0042")
    decide.add_argument(
        "--outcome",
        required=True,
        choices=["record", "accept", "reject", "request_info", "redirect"],
        help="the decision",
    )
    decide.add_argument("--level", type=int, choices=[1, 2, 3], help="the level decided")
    decide.add_argument(
        "--reason",
        action="append",
        default=[],
        metavar="TEXT",
        help="told to the agency: a reason (rejection, another level, redirect) or an item"
        " to ask for (request_info); repeat for several",
    )
    decide.add_argument("--note", default="", metavar="TEXT", help="your own note: never sent")
    decide.add_argument(
        "--to", metavar="ADDRESS", help="redirect: the other area's Co-ordinator's address"
    )
    decide.add_argument(
        "--by", metavar="NAME", help="who decides (default: the logged-in user name)"
    )
    decide.add_argument(
        "--now", metavar="DATETIME", help="the decision's time (replaying and testing)"
    )
    _config_option(decide)

    console = commands.add_parser("console", help="the Co-ordinator's web console")
    _config_option(console)

    users = commands.add_parser("users", help="console accounts")
    users_commands = users.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    add = users_commands.add_parser("add", help="a new account; prints its one-time login link")
    add.add_argument("name", metavar="NAME", help="the login name")
    add.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        help="what the account may do",
    )
    add.add_argument("--display-name", metavar="TEXT", help="the name shown on decisions")
    _config_option(add)
    for name, text in (
        ("disable", "stop an account and end its sessions"),
        ("reset", "clear an account's password and lockout; prints a new one-time login link"),
    ):
        action = users_commands.add_parser(name, help=text)
        action.add_argument("name", metavar="NAME", help="the login name")
        _config_option(action)
    _config_option(users_commands.add_parser("list", help="the accounts, one per line"))

    templates = commands.add_parser("templates", help="reply templates")
    templates_commands = templates.add_subparsers(
        dest="templates_command", required=True, parser_class=_Parser
    )
    preview = templates_commands.add_parser("preview", help="render one template for a case")
    preview.add_argument("name", metavar="NAME", help="the template, e.g. request_info")
    preview.add_argument("--case", required=True, metavar="REF", help="the case to render it for")
    preview.add_argument("--html", action="store_true", help="print the HTML part too")
    _config_option(preview)

    keys = commands.add_parser("keys", help="storage keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    keys_commands.add_parser("new", help="print a new random storage key (base64)")
    rotate = keys_commands.add_parser(
        "rotate",
        help="re-seal stored mail sealed with a previous key with the key in force"
        " (docs/operations.md)",
    )
    _config_option(rotate)

    retention = commands.add_parser(
        "retention", help="remove the stored mail the retention policy says has expired"
    )
    retention.add_argument(
        "--now", metavar="DATETIME", help="the time to judge expiry at (default: now)"
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="say what would be removed; change nothing"
    )
    retention.add_argument("--json", action="store_true", help="one JSON object")
    _config_option(retention)

    export = commands.add_parser("export", help="write one case as a ZIP for the system of record")
    export.add_argument("ref", metavar="REF", help="the case reference, e.g. MAPPA-2026-0042")
    export.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="the ZIP to write (default ./REF.zip; never overwritten)",
    )
    _config_option(export)

    config = commands.add_parser("config", help="configuration helpers")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("example", help="print a complete, commented configuration file")
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="configuration file (default ./mappa-intake.toml, else the embedded defaults)",
    )


def _document_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="PDF, DOCX, .eml or .txt"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per form (JSON Lines)")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="configuration file (limits, calendar)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("parse", "check"):
        from app.documents import run_documents

        return run_documents(args)
    if args.command == "demo":
        from app.demo import run_demo

        return run_demo(args)
    if args.command == "run":
        from app.daemon import run_daemon

        return run_daemon(args)
    if args.command == "console":
        from app.console import run_console

        return run_console(args)
    if args.command == "users":
        from app.console import run_users

        return run_users(args)
    if args.command in ("decide", "templates"):
        from app.deciding import run_decision_command

        return run_decision_command(args)
    if args.command in ("status", "cases", "quarantine"):
        from app.commands import run_state_command

        return run_state_command(args)
    if args.command == "keys":
        from app.keys import run_keys

        return run_keys(args)
    if args.command == "retention":
        from app.retention import run_retention

        return run_retention(args)
    if args.command == "export":
        from app.export import run_export

        return run_export(args)
    if args.command == "config":
        from app.settings import example

        sys.stdout.write(example())
        return EXIT_OK
    return EXIT_USAGE


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
