"""``mappa-intake export REF [--out PATH]``: one case as a ZIP for the system of record
(records/export.py says what is in it), with ``manifest.json`` and ``SHA256SUMS`` giving the
sha256 of every other file.

The ZIP is written beside its final name, synced, and only then given that name (a file that
is there is whole); an existing file is never overwritten. It is readable by its owner only.
Every export is audited: who, which case, how many files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.exits import EXIT_OK, EXIT_PROBLEM, fail, state_failure
from app.settings import ConfigError

if TYPE_CHECKING:
    from records.export import Bundle

# A fixed time for every member: the ZIP of the same case and files is the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def run_export(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from app.commands import deadline_flagger
    from app.deciding import os_user
    from app.runtime import open_sealed_state
    from records import cases as case_records
    from records.audit import AuditAction, audit
    from records.errors import RecordsError, SealError
    from records.export import case_bundle

    ref = str(args.ref).upper()
    out = Path(args.out) if args.out else Path(f"{ref}.zip")
    if out.exists() or out.is_symlink():
        return fail(f"{out}: already exists; not overwritten")
    if not out.parent.is_dir():
        return fail(f"{out}: no such folder {out.parent}")
    try:
        settings, sealer, db = open_sealed_state(args.config)
    except (ConfigError, RecordsError, DBAPIError) as err:
        return state_failure(err)
    try:
        with db.session() as session:
            case = case_records.find_by_ref(session, ref)
            if case is None:
                return fail(f"{ref}: no such case")
            bundle = case_bundle(session, case, sealer, deadline_flagger(settings))
        temporary = _write_zip(bundle, out)
        try:
            with db.session() as session:
                audit(
                    session,
                    datetime.now(UTC),
                    f"cli:{os_user()}",
                    "",
                    AuditAction.EXPORT_CASE,
                    ref,
                    files=len(bundle.files),
                    bytes=temporary.stat().st_size,
                )
            _place(temporary, out)
        finally:
            temporary.unlink(missing_ok=True)
    except FileExistsError:
        return fail(f"{out}: already exists; not overwritten")
    except OSError as err:
        return fail(f"{out}: cannot be written: {err.strerror or err}", EXIT_PROBLEM)
    except SealError as err:
        return fail(f"{ref}: stored mail cannot be opened: {err}", EXIT_PROBLEM)
    except DBAPIError as err:
        return state_failure(err)
    finally:
        db.dispose()
    print(f"{ref}: {len(bundle.files)} files written to {out}")
    return EXIT_OK


def _write_zip(bundle: Bundle, out: Path) -> Path:
    """The bundle as a ZIP in a temporary file beside ``out`` (mode 0600), synced."""
    descriptor, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for path, data in _members(bundle):
                    info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o600 << 16
                    archive.writestr(info, data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _members(bundle: Bundle) -> list[tuple[str, bytes]]:
    record = json.dumps(bundle.record, ensure_ascii=False, indent=2, sort_keys=False).encode()
    files = [("case.json", record + b"\n"), *bundle.files]
    listed: list[dict[str, Any]] = [
        {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for path, data in files
    ]
    manifest = {"format": bundle.record["format"], "case": bundle.record["ref"], "files": listed}
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in listed)
    return [
        *files,
        ("manifest.json", json.dumps(manifest, indent=2).encode() + b"\n"),
        ("SHA256SUMS", sums.encode()),
    ]


def _place(temporary: Path, out: Path) -> None:
    """Give the whole file its name, never over another file (FileExistsError)."""
    try:
        os.link(temporary, out)  # fails if ``out`` exists: no overwrite, even in a race
    except OSError as err:
        if isinstance(err, FileExistsError):
            raise
        # A file system without hard links: rename, having looked first.
        if out.exists():
            raise FileExistsError(str(out)) from err
        os.replace(temporary, out)
    directory = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
