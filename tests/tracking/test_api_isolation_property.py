"""Isolation property of the tracking API, over random tenants, grants, stores and lookups:

* the API never returns a piece (a 200, or a 207 item with statusCode "200") whose MID the
  access decision denies to the caller's provider;
* every number the decision allows and the store holds comes back 200, with the newest
  matching piece;
* every other number gets exactly the status the decision and the store imply: 400 or 403
  when denied, whether or not the piece is stored (no existence oracle), 404 when allowed but
  unknown.

The reference is the one access decision (`decide_for_number` for what was asked, `decide`
for the MID of what came back), evaluated after the requests with an empty cache, so the
API's own cached and batched decisions (`decide_many`) are held against a cold one.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.constants import ProviderStatus, ProviderType
from accounts.models import Provider
from agreements.constants import AgreementStatus, MidLinkStatus, MidRelation, ScheduleLineStatus
from agreements.decision import decide, decide_for_number
from core.tracking_numbers import InvalidTrackingNumber, parse
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    UserFactory,
)
from tests.tracking.api_helpers import api_client_for, number_for, store_piece
from tests.tracking.h6_schema_data import RETAIL, S10
from tracking.models import MailPiece

# Small pools, so that tenants compete for the same MIDs and numbers repeat.
MIDS = ("900100200", "900300400", "900500600", "123456", "234567")
SERIALS = (1, 2, 3)
MAILING_DATES = (date(2026, 11, 20), date(2025, 1, 5))
OTHER_DATE = date(2026, 1, 1)
WINDOWS = {
    # (valid_from, valid_until) in days from now
    "current": (-10, None),
    "expired": (-20, -1),
    "future": (5, None),
}


def mostly(value, alternatives):
    """Bias towards what lets access through, so allowed answers are common too."""
    value = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.one_of(value, value, value, alternatives)


@dataclass(frozen=True)
class Link:
    mid: str
    relation: str
    status: str
    window: str


@dataclass(frozen=True)
class Line:
    mid: str
    status: str


@dataclass(frozen=True)
class Tenant:
    provider_type: str
    status: str
    billing_hold: bool
    agreement: str | None  # its status, or no agreement at all
    links: tuple[Link, ...]
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Item:
    number: str
    mailing_date: date | None


@dataclass(frozen=True)
class Lookup:
    tenant: int
    batch: bool
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Scenario:
    tenants: tuple[Tenant, ...]
    pieces: tuple[tuple[str, int, date], ...]  # (MID, serial, mailing date)
    lookups: tuple[Lookup, ...]


links = st.builds(
    Link,
    mid=st.sampled_from(MIDS),
    relation=st.sampled_from(MidRelation.values),
    status=mostly(MidLinkStatus.VERIFIED.value, st.sampled_from(MidLinkStatus.values)),
    window=mostly("current", st.sampled_from(sorted(WINDOWS))),
)
lines = st.builds(
    Line,
    mid=st.sampled_from(MIDS),
    status=mostly(ScheduleLineStatus.APPROVED.value, st.sampled_from(ScheduleLineStatus.values)),
)


def _links(min_size: int = 0) -> st.SearchStrategy[tuple[Link, ...]]:
    unique = st.lists(
        links, min_size=min_size, max_size=3, unique_by=lambda link: (link.mid, link.relation)
    )
    return unique.map(tuple)


def _lines() -> st.SearchStrategy[tuple[Line, ...]]:
    return st.lists(lines, max_size=2, unique_by=lambda line: line.mid).map(tuple)


@st.composite
def tenants(draw):
    agreement = draw(st.none() | st.sampled_from(AgreementStatus.values))
    return Tenant(
        provider_type=draw(st.sampled_from(ProviderType.values)),
        status=draw(st.sampled_from(ProviderStatus.values)),
        billing_hold=draw(st.booleans()),
        agreement=agreement,
        links=draw(_links()),
        lines=draw(_lines()) if agreement else (),
    )


@st.composite
def in_good_standing(draw):
    """Every scenario has one tenant in good standing, with a working link and a working
    schedule line (maybe on the same MID): only its grants decide, so allowed answers are
    common, and both kinds of grant serve pieces."""
    working = Link(
        mid=draw(st.sampled_from(MIDS)),
        relation=MidRelation.AUTHORIZED_BY_OWNER.value,
        status=MidLinkStatus.VERIFIED.value,
        window="current",
    )
    line = Line(mid=draw(st.sampled_from(MIDS)), status=ScheduleLineStatus.APPROVED.value)
    others = [
        link
        for link in draw(_links())
        if (link.mid, link.relation) != (working.mid, working.relation)
    ]
    return Tenant(
        provider_type=draw(st.sampled_from(ProviderType.values)),
        status=ProviderStatus.ACTIVE.value,
        billing_hold=False,
        agreement=AgreementStatus.APPROVED.value,
        links=(working, *others),
        lines=(line, *(other for other in draw(_lines()) if other.mid != line.mid)),
    )


def _spellings(number: str) -> st.SearchStrategy[str]:
    """The same number as a client may send it: plain, as scanned (420 + ZIP routing), spaced."""
    return st.sampled_from([number, number, f"42080301{number}", f"{number[:4]} {number[4:]}"])


def _granted(tenant: Tenant) -> list[str]:
    return sorted({link.mid for link in tenant.links} | {line.mid for line in tenant.lines})


@st.composite
def scenarios(draw):
    tenant_list = [draw(in_good_standing()), *draw(st.lists(tenants(), min_size=1, max_size=3))]
    granted = sorted({mid for tenant in tenant_list for mid in _granted(tenant)})
    # Pieces mostly on MIDs someone holds a grant for, so that allowed lookups find them.
    piece_mid = mostly(st.sampled_from(granted), st.sampled_from(MIDS))
    pieces = draw(
        st.lists(
            st.tuples(piece_mid, st.sampled_from(SERIALS), st.sampled_from(MAILING_DATES)),
            max_size=8,
            unique=True,
        )
    )
    # Pieces the tenant in good standing may read, by its link and by its schedule line.
    readable = [
        (grant.mid, draw(st.sampled_from(SERIALS)), MAILING_DATES[0])
        for grant in (tenant_list[0].links[0], tenant_list[0].lines[0])
    ]
    pieces = sorted(set(readable) | set(pieces))
    stored = sorted({number_for(mid, serial) for mid, serial, _ in pieces})
    readable_numbers = [number_for(mid, serial) for mid, serial, _ in readable]
    unstored = [number_for(mid, 99) for mid in MIDS]
    typo = stored[0][:-1] + str((int(stored[0][-1]) + 1) % 10)
    mailing_date = st.one_of(st.none(), st.none(), st.sampled_from([*MAILING_DATES, OTHER_DATE]))

    def items_for(index: int) -> st.SearchStrategy[tuple[Item, ...]]:
        """The pieces the tenant in good standing may read (whoever asks), numbers of the
        tenant's own MIDs, anyone's, unknown ones, odd ones."""
        own = [n for n in stored if parse(n).mid in _granted(tenant_list[index])]
        number = st.one_of(
            st.sampled_from(readable_numbers).flatmap(_spellings),
            st.sampled_from(own or stored).flatmap(_spellings),
            st.sampled_from(own or stored),
            st.sampled_from(stored).flatmap(_spellings),
            st.sampled_from(unstored),
            st.sampled_from([S10, RETAIL, typo, "12345"]),
        )
        item = st.builds(Item, number=number, mailing_date=mailing_date)
        return st.lists(item, min_size=1, max_size=8).map(tuple)

    lookups = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        index = draw(st.just(0) | st.integers(min_value=0, max_value=len(tenant_list) - 1))
        batch = draw(st.booleans())
        items = draw(items_for(index))
        # A single GET asks one number.
        lookups.append(Lookup(index, batch, items if batch else items[:1]))
    return Scenario(tenants=tuple(tenant_list), pieces=tuple(pieces), lookups=tuple(lookups))


def build(scenario: Scenario) -> list:
    """The tenants (each with an API client of its own), their grants and the store.

    Statuses and holds are set after the tokens are issued and before any lookup, so nothing
    the API caches can be stale."""
    now = timezone.now()
    requester = UserFactory()
    # One current version for every type, so a schedule line works for any tenant in good
    # standing (a version for other types would make its agreement no agreement at all).
    version = AgreementVersionFactory(applies_to=sorted(ProviderType.values))
    owned = set()  # one verified owner per MID (a database constraint)
    clients = []
    for tenant in scenario.tenants:
        provider = ProviderFactory(provider_type=tenant.provider_type)
        clients.append(api_client_for(provider, quota=10_000_000))
        if tenant.agreement is not None:
            agreement = AgreementFactory(
                provider=provider, version=version, status=tenant.agreement
            )
            for line in tenant.lines:
                ScheduleLineFactory(agreement=agreement, mid=line.mid, status=line.status)
        for link in tenant.links:
            relation = link.relation
            if relation == MidRelation.OWNED and link.status == MidLinkStatus.VERIFIED:
                if link.mid in owned:
                    continue
                owned.add(link.mid)
            start, end = WINDOWS[link.window]
            MidLinkFactory(
                provider=provider,
                mid=link.mid,
                relation=relation,
                status=link.status,
                valid_from=now + timedelta(days=start),
                valid_until=None if end is None else now + timedelta(days=end),
                requested_by=requester,
            )
        Provider.objects.filter(pk=provider.pk).update(
            status=tenant.status,
            suspension_cause="NON_PAYMENT" if tenant.status == ProviderStatus.SUSPENDED else "",
            billing_hold=tenant.billing_hold,
            billing_hold_at=now if tenant.billing_hold else None,
        )
        clients[-1].provider = provider
    for mid, serial, mailing_date in scenario.pieces:
        store_piece(number_for(mid, serial), mid=mid, mailing_date=mailing_date, events=1)
    return clients


def ask(client, lookup: Lookup) -> list[tuple[int, str | None]]:
    """(status, uniqueMailPieceId or None) for each item, as the API answered it."""
    if not lookup.batch:
        (item,) = lookup.items
        params = {"expand": "DETAIL"}
        if item.mailing_date:
            params["mailingDate"] = item.mailing_date.isoformat()
        response = client.get(f"/tracking/v3/tracking/{quote(item.number, safe='')}", params)
        body = response.json()
        if response.status_code == 200:
            return [(200, body["uniqueMailPieceId"])]
        assert "trackingEvents" not in body and "uniqueMailPieceId" not in body
        return [(response.status_code, None)]

    body = [{"trackingNumber": item.number} for item in lookup.items]
    for request, item in zip(body, lookup.items, strict=True):
        if item.mailing_date:
            request["mailingDate"] = item.mailing_date.isoformat()
    response = client.post("/tracking/v3r2/tracking", body, format="json")
    answer = response.json()
    if response.status_code == 200:
        assert len(answer) == len(body)
        return [(200, piece["uniqueTrackingID"]) for piece in answer]
    if response.status_code == 207:
        assert len(answer) == len(body)
        results = []
        for piece in answer:
            if piece["statusCode"] == "200":
                results.append((200, piece["uniqueTrackingID"]))
            else:
                assert "trackingEvents" not in piece and "uniqueTrackingID" not in piece
                results.append((int(piece["statusCode"]), None))
        return results
    # Every item failed alike: one envelope, one error per item, no piece anywhere.
    assert isinstance(answer, dict) and set(answer) == {"apiVersion", "error"}
    assert len(answer["error"]["errors"]) == len(body)
    return [(response.status_code, None)] * len(body)


def newest_match(item: Item) -> MailPiece | None:
    try:
        pic = parse(item.number).pic
    except InvalidTrackingNumber:
        return None
    pieces = MailPiece.objects.filter(tracking_number=pic)
    if item.mailing_date:
        pieces = pieces.filter(mailing_date=item.mailing_date)
    return pieces.order_by("-mailing_date").first()


@settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_the_api_serves_exactly_what_the_decision_allows(db, scenario):
    cache.clear()  # tokens, decisions and quota counters of earlier examples
    with transaction.atomic():
        clients = build(scenario)
        answers = [ask(clients[lookup.tenant], lookup) for lookup in scenario.lookups]
        cache.clear()  # the reference decisions are computed cold

        for lookup, answered in zip(scenario.lookups, answers, strict=True):
            provider = clients[lookup.tenant].provider
            for item, (status, piece_id) in zip(lookup.items, answered, strict=True):
                asked = decide_for_number(provider=provider, tracking_number=item.number)
                match = newest_match(item)
                if piece_id is not None:
                    served = MailPiece.objects.get(unique_mail_piece_id=piece_id)
                    assert decide(provider=provider, mid=served.mid).allowed, (item, served.mid)
                    assert served == match, item
                if asked.allowed:
                    expected = 200 if match is not None else 404
                else:
                    expected = 400 if asked.is_bad_request else 403
                event(f"{expected} {'batch' if lookup.batch else 'single'}")
                event(f"{asked.basis.kind} grant" if asked.allowed else asked.reason_codes[0])
                assert status == expected, (item, asked.reason_codes, match)
        transaction.set_rollback(True)
