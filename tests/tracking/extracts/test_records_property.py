"""Property: whatever text the store holds (quotes, backslashes, control characters, any
Unicode but NUL, which PostgreSQL text cannot hold), a record read back from the NDJSON or CSV
file carries it unchanged, and the fast text path writes exactly what PostgreSQL's JSON
functions write. The rule is stated independently of the code: json.loads / csv.reader of
the output must give the stored values back."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tracking.extracts.helpers import MID, csv_rows, ndjson_lines, number_for, recent
from tracking.extracts.build import write_extract
from tracking.extracts.selectors import events_page
from tracking.models import MailPiece, TrackingEvent

pytestmark = pytest.mark.django_db


def as_csv(text: str) -> str:
    """What a CSV cell of free text holds: the text, behind a ' if it starts like a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and text else text


TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40
)


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    city=TEXT | st.sampled_from(["=1+1", "-2", "@SUM(A1)", "+x", "\tTAB", "\rCR"]),
    firm=TEXT,
    name=TEXT,
    summary=TEXT,
)
def test_any_stored_text_comes_back_unchanged(city, firm, name, summary):
    TrackingEvent.objects.all().delete()
    MailPiece.objects.all().delete()
    piece = MailPiece.objects.create(
        tracking_number=number_for(MID, 1),
        mailing_date=recent(),
        mid=MID,
        unique_mail_piece_id="UMP1",
        destination_city=city,
        status_summary=summary,
    )
    moment = datetime.combine(recent(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    TrackingEvent.objects.create(
        piece=piece,
        event_code="10",
        event_type="Processed",
        event_timestamp=(moment - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S"),
        gmt_timestamp=moment,
        gmt_offset="-7:00",
        firm=firm,
        recipient_name=name,
    )
    files = {}
    for file_format in ("NDJSON", "CSV"):
        out = io.BytesIO()
        write_extract(mids=[MID], start=recent(), end=recent(), file_format=file_format, out=out)
        files[file_format] = out.getvalue()

    (record,) = ndjson_lines(files["NDJSON"])
    (row,) = csv_rows(files["CSV"])

    # JSON leaves empty values out; CSV has every column, empty when there is nothing, and
    # text that would start a spreadsheet formula behind a '.
    assert record.get("destinationCity", "") == city and row["destinationCity"] == as_csv(city)
    assert record.get("statusSummary", "") == summary and row["statusSummary"] == as_csv(summary)
    assert record["trackingEvent"].get("firm", "") == firm and row["firm"] == as_csv(firm)
    assert record["trackingEvent"].get("recipientName", "") == name
    assert row["recipientName"] == as_csv(name)
    page = events_page(
        mids=[MID],
        lower=moment - timedelta(hours=12),
        upper=moment + timedelta(hours=1),
        after_id=0,
        limit=5,
    )
    assert page.events == [record]
