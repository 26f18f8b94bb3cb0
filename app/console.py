"""``mappa-intake console`` (the web console, served by uvicorn) and ``mappa-intake users``
(accounts: add, disable, reset, list). Both open the database like the other commands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.exits import EXIT_OK, EXIT_PROBLEM, fail
from app.settings import ConfigError, Settings, load

if TYPE_CHECKING:
    import uvicorn

    from console.services import ConsoleServices
    from console.settings import ConsoleSettings
    from records.database import Database


def console_services(
    settings: Settings, environ: Mapping[str, str], db: Database
) -> ConsoleServices:
    from app.runtime import decision_policy
    from app.wiring import (
        LOCAL_ZONE,
        casework_from,
        console_settings_from,
        reply_settings_from,
        screening_from,
        sealer_from,
    )
    from console.auth import Authenticator
    from console.services import ConsoleServices
    from intake.casework import Casework
    from intake.processing import MessageProcessor
    from responders.context import ContextBuilder
    from responders.receipts import AutoReplies
    from responders.templates import Templates

    policy = decision_policy(settings)
    sealer = sealer_from(settings, environ)
    console_settings = console_settings_from(settings)

    def clock() -> datetime:
        return datetime.now(LOCAL_ZONE)

    casework = Casework(casework_from(settings), sealer)
    return ConsoleServices(
        db=db,
        settings=console_settings,
        clock=clock,
        auth=Authenticator(db, console_settings, clock),
        policy=policy,
        reply_templates=Templates(policy.replies.templates),
        reply_contexts=ContextBuilder(policy.replies, policy.triage, policy.calendar),
        sealer=sealer,
        reassess=casework.assess,
        # A message taken from the quarantine is acknowledged like new mail: its reply goes
        # into the outbox, which the daemon's sender works through.
        processor=MessageProcessor(
            db,
            casework,
            screening_from(settings),
            clock=clock,
            replies=AutoReplies(reply_settings_from(settings).sender, lambda: None),
        ),
    )


def run_console(args: argparse.Namespace) -> int:
    from app.runtime import open_database

    try:
        settings = load(args.config)
        db = open_database(settings)
        services = console_services(settings, os.environ, db)
    except ConfigError as err:
        return fail(str(err))
    serve(services)
    return EXIT_OK


def console_server(services: ConsoleServices) -> uvicorn.Server:
    """The console's web server (``serve`` runs it; the demo runs it on a thread)."""
    import uvicorn

    from console.app import create_app

    config = uvicorn.Config(
        create_app(services),
        host=services.settings.host,
        port=services.settings.port,
        log_level="warning",
        # Behind the council's TLS proxy the client's scheme comes in X-Forwarded-Proto.
        proxy_headers=True,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(services: ConsoleServices) -> None:
    """Serve until Ctrl-C (uvicorn handles the signals)."""
    print(f"mappa-intake console: {services.settings.base_url}/", flush=True)
    console_server(services).run()


def welcome_link(settings: ConsoleSettings, token: str) -> str:
    """The address of a one-time login link (console/views/login.py serves it)."""
    return f"{settings.base_url}/welcome/{token}"


def run_users(args: argparse.Namespace) -> int:
    from app.runtime import open_database
    from app.wiring import console_settings_from

    try:
        settings = load(args.config)
        db = open_database(settings)
    except ConfigError as err:
        return fail(str(err))
    try:
        return _users(args, console_settings_from(settings), db)
    finally:
        db.dispose()


def _users(args: argparse.Namespace, console: ConsoleSettings, db: Database) -> int:
    from app.deciding import os_user
    from records import people
    from records.audit import AuditAction, audit
    from records.errors import NotFound
    from records.tables import Role

    now = datetime.now(UTC)
    link_valid = console.one_time_login
    operator = f"cli:{os_user()}"
    try:
        with db.session() as session:
            if args.users_command == "list":
                for user in people.all_users(session):
                    state = "active" if user.active else "disabled"
                    print(f"{user.name}\t{user.role.value}\t{state}\t{user.display_name}")
                return EXIT_OK
            if args.users_command == "add":
                user = people.add_user(
                    session, args.name, args.display_name or args.name, Role(args.role), now
                )
                action = AuditAction.USER_ADDED
            else:
                user = people.user_named(session, args.name)
                assert user.id is not None
                people.end_sessions(session, user.id)
                if args.users_command == "disable":
                    user.active = False
                    session.add(user)
                    audit(session, now, operator, "", AuditAction.USER_DISABLED, user.name)
                    print(f"{user.name}: disabled; their sessions have ended")
                    return EXIT_OK
                user.active = True
                user.password_hash = ""
                user.failed_logins = 0
                user.locked_until = None
                session.add(user)
                action = AuditAction.USER_RESET
            token = people.issue_one_time_login(session, user, now + link_valid)
            audit(session, now, operator, "", action, user.name, given_role=user.role.value)
    except (people.UserExists, NotFound) as err:
        return fail(str(err), EXIT_PROBLEM)
    hours = int(link_valid.total_seconds() // 3600)
    print(f"{user.name} ({user.role.value}): one-time login, valid {hours} hours:")
    print(f"  {welcome_link(console, token)}")
    return EXIT_OK
