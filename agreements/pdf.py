"""The PDF of a signed IP agreement, made with reportlab (pure Python: no system libraries).

Only the standard PDF fonts are used and page compression is off, so the text (and the SHA-256)
can be found in the file's bytes by a test or a grep. Characters outside the standard fonts'
encoding (rare in an English agreement) are drawn from reportlab's fallback fonts.
"""

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.text import Truncator, slugify
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from agreements.models import Agreement

_STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("AgreementBody", parent=_STYLES["BodyText"], fontSize=10, leading=14)
SMALL = ParagraphStyle("AgreementSmall", parent=BODY, fontSize=9, leading=12)
HASH = ParagraphStyle("AgreementHash", parent=SMALL, fontName="Courier")
TITLE = _STYLES["Title"]
HEADING = _STYLES["Heading2"]


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text: reportlab parses markup, so everything is escaped."""
    return Paragraph(escape(text), style)


def _labelled(label: str, value: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", style)


def _text_paragraphs(text: str) -> list[Paragraph]:
    """Paragraphs split on blank lines; single line breaks are kept."""
    blocks = [block.strip("\n") for block in text.replace("\r\n", "\n").split("\n\n")]
    return [
        Paragraph("<br/>".join(escape(line) for line in block.split("\n")), BODY)
        for block in blocks
        if block.strip()
    ]


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}" if moment else "—"


def agreement_pdf_filename(*, agreement: Agreement) -> str:
    name = slugify(agreement.provider.legal_name) or "provider"
    label = slugify(agreement.version.label) or "version"
    return f"ip-agreement-{name}-{label}-{agreement.pk}.pdf"


def agreement_pdf(*, agreement: Agreement) -> bytes:
    """The signed agreement: heading, full text, schedule lines, signature block and hash.
    `agreement` needs its provider, version (with text) and schedule lines loaded."""
    provider, version = agreement.provider, agreement.version
    title = f"Intellectual Property Agreement {version.label}"
    footer = (
        f"{Truncator(provider.legal_name).chars(40)} · IP agreement {version.label}"
        f" · signed {_when(agreement.signed_at)}"
        f" · text SHA-256 {agreement.signed_text_sha256[:16]}…"
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

    story = [
        _p(title, TITLE),
        _labelled("Provider", provider.legal_name),
        *([_labelled("Doing business as", provider.dba_name)] if provider.dba_name else []),
        *([_labelled("CRID", provider.crid)] if provider.crid else []),
        _labelled("Provider type", provider.get_provider_type_display()),
        _labelled("Agreement version", version.label),
        _labelled("Effective", _when(version.effective_at)),
        _labelled(
            "Status when this copy was made",
            f"{agreement.get_status_display()} ({_when(timezone.now())})",
        ),
        Spacer(1, 0.2 * inch),
        _p("Agreement text", HEADING),
        *_text_paragraphs(version.text),
        _p("Schedule of third-party Mailer IDs", HEADING),
    ]
    lines = list(agreement.schedule_lines.all())
    if lines:
        story += [
            _labelled(f"MID {line.mid} ({line.get_status_display()})", line.justification)
            for line in lines
        ]
    else:
        story.append(_p("No schedule lines were requested with this signature."))
    story.append(
        KeepTogether(
            [
                _p("Signature", HEADING),
                _p(
                    f"{agreement.signer_name} attested being authorized to bind "
                    f"{provider.legal_name} to this agreement, and signed it electronically."
                ),
                _labelled("Signed by", agreement.signer_name),
                _labelled("Title", agreement.signer_title),
                _labelled("On behalf of", provider.legal_name),
                _labelled("Signed at", _when(agreement.signed_at)),
                _labelled("IP address", agreement.ip_address or "not recorded"),
                _labelled("User agent", agreement.user_agent or "not recorded", SMALL),
                _labelled("Status", agreement.get_status_display()),
                *(
                    [_labelled("Staff decision", agreement.decision_reason)]
                    if agreement.decision_reason
                    else []
                ),
                Spacer(1, 0.1 * inch),
                _p("SHA-256 of the agreement text shown to the signer:", SMALL),
                _p(agreement.signed_text_sha256, HASH),
            ]
        )
    )

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
        subject=f"{title}, signed by {provider.legal_name}",
        creator="Tracking Access Portal",
        pageCompression=0,
    )
    document.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
