"""Every bad input of issue 3 item 6: exit 2 and one line on stderr naming the file and the
reason, or, inside an .eml, a warning on that part's object; never a traceback."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests.conftest import Run

MIB = 1024 * 1024


def _pdf(text: str = "MAPPA Referral Form", *, password: str | None = None) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=password)
    pdf.drawString(72, 760, text)
    pdf.drawString(72, 740, "Surname: TESTER")
    pdf.save()
    return buffer.getvalue()


def _docx_with(extra: dict[str, bytes], *, content_types: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            content_types
            or b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        archive.writestr("word/document.xml", b"<w:document/>")
        for name, data in extra.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        # 200 MB of zeros compress to about 200 KB: the declared size gives it away.
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * MIB
            for _ in range(200):
                member.write(chunk)
    return buffer.getvalue()


def _ole2() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096


BAD_FILES: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("empty", "empty.pdf", lambda: b"", "empty file"),
    ("not a pdf", "letter.pdf", lambda: b"Dear Co-ordinator,\nplease see attached.\n", "not a PDF"),
    ("truncated pdf", "cut.pdf", lambda: _pdf()[:400], "PDF"),
    ("password pdf", "locked.pdf", lambda: _pdf(password="s3cret"), "password-protected"),
    (
        "docx with macros",
        "macro.docx",
        lambda: _docx_with({"word/vbaProject.bin": b"VBA"}),
        "macros",
    ),
    ("zip bomb docx", "bomb.docx", _zip_bomb, "expands"),
    ("50 MB file", "huge.pdf", lambda: b"%PDF-1.4\n" + b"0" * (50 * MIB), "over the 25 MB limit"),
    ("old binary doc", "old.doc", _ole2, "old binary Word"),
    ("old doc renamed docx", "renamed.docx", _ole2, "old binary Word"),
    ("zip that is not word", "archive.docx", lambda: _docx_without_word(), "not a Word document"),
]


def _docx_without_word() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", b"hello")
    return buffer.getvalue()


def _assert_one_line(result: Run, path: Path, reason: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(path) in lines[0]
    assert reason.lower() in lines[0].lower(), lines[0]


@pytest.mark.parametrize(
    ("name", "filename", "make", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
@pytest.mark.parametrize("command", ["parse", "check"])
def test_bad_file_exits_2_with_one_line(
    cli: Callable[..., Run],
    tmp_path: Path,
    command: str,
    name: str,
    filename: str,
    make: Callable[[], bytes],
    reason: str,
) -> None:
    path = tmp_path / filename
    path.write_bytes(make())
    result = cli(command, path, "--json")
    _assert_one_line(result, path, reason)
    assert result.stdout == ""


def test_missing_file(cli: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pdf"
    _assert_one_line(cli("parse", path), path, "cannot read file")


def test_good_files_still_read_after_a_bad_one(cli: Callable[..., Run], tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"")
    good = tmp_path / "good.txt"
    good.write_text("MAPPA Notification Form\nSurname: TESTER\nForename(s): Ann\n")
    result = cli("parse", "--json", bad, good)
    assert result.code == 2
    assert [obj["source"] for obj in result.json_lines()] == [str(good)]


def _message(parts: list[tuple[str, str, bytes]], body: str = "Please find attached.") -> bytes:
    message = EmailMessage()
    message["From"] = "Officer Example <officer.example@police.scot>"
    message["To"] = "mappa.lanarkshire@southlanarkshire.gov.uk"
    message["Subject"] = "OFFICIAL-SENSITIVE: MAPPA referral"
    message["Date"] = "Mon, 16 Nov 2026 09:30:00 +0000"
    message["Message-ID"] = "<test-1@police.scot>"
    message.set_content(body)
    for filename, subtype, data in parts:
        maintype, _slash, sub = subtype.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=sub, filename=filename)
    return message.as_bytes()


def test_eml_with_bad_attachments_warns_per_part(cli: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "message.eml"
    path.write_bytes(
        _message(
            [
                ("locked.pdf", "application/pdf", _pdf(password="x")),
                (
                    "macro.docx",
                    "application/octet-stream",
                    _docx_with({"word/vbaProject.bin": b"x"}),
                ),
                ("old.doc", "application/msword", _ole2()),
            ]
        )
    )
    result = cli("parse", "--json", path)
    assert "Traceback" not in result.stderr
    objects = {obj["source"]: obj for obj in result.json_lines()}
    warnings = {source: " ".join(obj["warnings"]) for source, obj in objects.items()}  # type: ignore[arg-type]
    assert "password-protected" in warnings[f"{path}#attachment:locked.pdf"]
    assert "macros" in warnings[f"{path}#attachment:macro.docx"]
    assert "old binary Word" in warnings[f"{path}#attachment:old.doc"]
    assert result.code == 1


def test_eml_with_broken_mime(cli: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "broken.eml"
    path.write_bytes(
        b"From: officer.example@police.scot\r\nSubject: MAPPA notification\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
        b"--XYZ\r\nContent-Type: application/pdf; name=form.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n%%%not base64 at all!!!\r\n"
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nMAPPA Notification Form\r\nSurname: TESTER\r\n"
    )
    result = cli("parse", "--json", path)
    assert "Traceback" not in result.stderr
    assert result.code in (0, 1)
    assert result.json_lines(), result


def test_unknown_command_is_usage_error(cli: Callable[..., Run]) -> None:
    result = cli("frobnicate")
    assert result.code == 2
    assert "Traceback" not in result.stderr
