"""The form as received, beside its fields: which document a form came from, drawn for the
page (console/documents.py), and a PDF's pages as images."""

from __future__ import annotations

from sqlmodel import Session
from starlette.responses import Response

from console.documents import (
    DocumentUnreadable,
    DocumentView,
    body_view,
    docx_view,
    kind_of,
    pdf_page_png,
    pdf_view,
)
from console.errors import PageNotFound
from console.services import ConsoleServices
from console.views.finding import find_case, form_of
from console.web import Call
from records import ledger
from records.errors import NotFound, Purged, SealError
from records.tables import Form


def part_name(form: Form) -> str:
    """ "message#attachment:referral.pdf" -> "referral.pdf"; the body -> "" ."""
    _, _, part = form.source.rpartition("#")
    return part.partition(":")[2] if part.startswith("attachment:") else ""


def document_view(services: ConsoleServices, session: Session, form: Form) -> DocumentView:
    name = part_name(form)
    try:
        if not name:
            return body_view(ledger.raw_bytes(session, form.inbound_id, services.sealer))
        data = ledger.attachment_bytes(session, form.inbound_id, name, services.sealer)
    except Purged as err:
        return DocumentView("none", note=f"This document was {err}.")
    except (NotFound, SealError) as err:
        return DocumentView("none", note=f"The stored document cannot be read: {err}")
    if kind_of(name) == "pdf":
        return pdf_view(data)
    if kind_of(name) == "docx":
        return docx_view(data)
    return DocumentView("none", note="This kind of document cannot be shown here.")


def page_image(services: ConsoleServices, call: Call) -> Response:
    """GET /cases/{ref}/forms/{form_id}/pages/{number}: one page of a PDF form, as PNG. The
    case page that shows it was audited as a view of the case."""
    with services.db.session() as session:
        case = find_case(session, call.path_params["ref"])
        form = form_of(session, case, _number(call.path_params["form_id"]))
        name = part_name(form)
        if kind_of(name) != "pdf":
            raise PageNotFound("This form is not a PDF.")
        try:
            data = ledger.attachment_bytes(session, form.inbound_id, name, services.sealer)
            png = pdf_page_png(data, _number(call.path_params["number"]))
        except Purged as err:
            raise PageNotFound(f"This document was {err}.") from err
        except (NotFound, SealError, DocumentUnreadable) as err:
            raise PageNotFound(f"This page cannot be drawn: {err}") from err
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise PageNotFound("No such page.")
    return int(text)
