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

EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(EXIT_UNREADABLE)


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

    commands.add_parser("demo", help="run parse and check over the sample forms and summarise")

    config = commands.add_parser("config", help="configuration helpers")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("example", help="print a complete, commented configuration file")
    return parser


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

        return run_demo()
    if args.command == "config":
        from app.settings import example

        sys.stdout.write(example())
        return EXIT_OK
    return EXIT_UNREADABLE


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
