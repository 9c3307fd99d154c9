"""The PDF of an issued invoice, made with reportlab like the agreement's (agreements/pdf.py):
the standard PDF fonts and no page compression, so the number and the amounts can be found in
the file's bytes by a test or a grep.

What it shows is what the invoice page shows: number, provider, period, dates, status, the
lines with how each amount was computed, credit notes, payments, the totals and how to pay.
"""

import io
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from django.utils.text import Truncator, slugify
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table

from billing.constants import InvoiceStatus, PaymentStatus
from billing.models import BillingAccount, Invoice
from billing.templatetags.billing import format_money

_STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("InvoiceBody", parent=_STYLES["BodyText"], fontSize=10, leading=14)
SMALL = ParagraphStyle("InvoiceSmall", parent=BODY, fontSize=8.5, leading=11)
RIGHT = ParagraphStyle("InvoiceRight", parent=BODY, alignment=2)
TITLE = _STYLES["Title"]
HEADING = _STYLES["Heading2"]
TABLE_STYLE = [
    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
    ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
]


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text: reportlab parses markup, and lines and reasons are typed by
    people, so everything is escaped."""
    return Paragraph(escape(text), style)


def _labelled(label: str, value: str) -> Paragraph:
    return Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", BODY)


def _date(value) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def _table(header: list[str], rows: list[list], widths: list[float]) -> Table:
    table = Table([header, *rows], colWidths=[w * inch for w in widths], repeatRows=1)
    table.setStyle(TABLE_STYLE)
    return table


def invoice_pdf_filename(*, invoice: Invoice) -> str:
    return f"invoice-{slugify(invoice.number or f'draft-{invoice.pk}')}.pdf"


def how_to_pay(*, invoice: Invoice, account: BillingAccount | None) -> list[str]:
    """The ways to settle what is still due, as sentences (the page says the same)."""
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        return []
    if invoice.amount_due_cents <= 0:
        return []
    ways = []
    if account is not None and account.default_payment_method_id:
        automatic = " is charged automatically;" if invoice.status == InvoiceStatus.OPEN else ":"
        ways.append(
            f"By card: the {account.card_brand.title() or 'card'} ending {account.card_last4} "
            f"on file{automatic} you may also pay now from the invoice page."
        )
    else:
        ways.append("By card: add a card on the portal's Payment methods page, then pay now.")
    ways.append(
        f"By wire transfer or check to {settings.BILLING_REMIT_TO}, quoting invoice "
        f"{invoice.number}."
    )
    return ways


def invoice_pdf(*, invoice: Invoice, account: BillingAccount | None) -> bytes:
    """`invoice` needs its provider, lines, credit notes and payments loaded
    (billing.selectors.provider_invoice does)."""
    provider, currency = invoice.provider, invoice.currency
    title = f"Invoice {invoice.number}"

    def cash(cents: int) -> str:
        return format_money(cents, currency)

    footer = (
        f"{Truncator(provider.legal_name).chars(40)} · {title} · period {invoice.period:%Y-%m}"
        f" · made {timezone.localtime():%Y-%m-%d %H:%M %Z}"
    )

    def draw_footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillGray(0.35)
        canvas.drawString(doc.leftMargin, 0.5 * inch, footer)
        canvas.drawRightString(
            doc.pagesize[0] - doc.rightMargin, 0.5 * inch, f"Page {canvas.getPageNumber()}"
        )
        canvas.restoreState()

    address = ", ".join(
        part
        for part in (
            provider.address_line1,
            provider.address_line2,
            provider.city,
            f"{provider.state} {provider.zip_code}".strip(),
        )
        if part
    )
    story = [
        _p(title, TITLE),
        _labelled("Status", invoice.get_status_display()),
        _labelled("Billed to", provider.legal_name),
        *([_labelled("Address", address)] if address else []),
        *([_labelled("CRID", provider.crid)] if provider.crid else []),
        _labelled("Period", f"{invoice.period:%B %Y}"),
        _labelled("Issued on", _date(invoice.issued_on)),
        _labelled("Due on", _date(invoice.due_on)),
        _labelled("From", f"Tracking Access Portal, {settings.BILLING_REMIT_TO}"),
        Spacer(1, 0.2 * inch),
        _p("Lines", HEADING),
        _table(
            ["Description", "How it was computed", "Amount"],
            [
                [_p(line.description), _p(line.computation, SMALL), cash(line.amount_cents)]
                for line in invoice.lines.all()
            ],
            [1.9, 3.4, 1.2],
        ),
    ]
    credits = list(invoice.credit_notes.all())
    if credits:
        story += [
            _p("Credit notes", HEADING),
            _table(
                ["Date", "Reason", "Amount"],
                [
                    [
                        _date(timezone.localdate(note.created_at)),
                        _p(note.reason),
                        cash(-note.amount_cents),
                    ]
                    for note in credits
                ],
                [1.2, 4.1, 1.2],
            ),
        ]
    payments = [p for p in invoice.payments.all() if p.status == PaymentStatus.SUCCEEDED]
    if payments:
        story += [
            _p("Payments received", HEADING),
            _table(
                ["Date", "Method", "Amount"],
                [
                    [
                        _date(timezone.localdate(p.settled_at or p.created_at)),
                        _p(p.get_method_display() + (f" ({p.reference})" if p.reference else "")),
                        cash(-p.amount_cents),
                    ]
                    for p in payments
                ],
                [1.2, 4.1, 1.2],
            ),
        ]
    totals = _table(
        ["Totals", ""],
        [
            ["Total", cash(invoice.total_cents)],
            ["Credited", cash(-invoice.credited_cents)],
            ["Paid", cash(-invoice.paid_cents)],
            ["Amount due", cash(invoice.amount_due_cents)],
        ],
        [5.3, 1.2],
    )
    totals.setStyle([("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold")])
    story += [Spacer(1, 0.2 * inch), totals]
    ways = how_to_pay(invoice=invoice, account=account)
    if ways:
        story.append(KeepTogether([_p("How to pay", HEADING), *[_p(way) for way in ways]]))
    elif invoice.status == InvoiceStatus.PAID:
        story.append(_p("Paid in full. Thank you.", HEADING))

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=inch,
        rightMargin=inch,
        topMargin=inch,
        bottomMargin=inch,
        title=title,
        author="Tracking Access Portal",
        subject=f"{title} to {provider.legal_name} for {invoice.period:%B %Y}",
        creator="Tracking Access Portal",
        pageCompression=0,
    )
    document.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
