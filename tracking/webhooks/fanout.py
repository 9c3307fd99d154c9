"""Fan-out: pieces that received new events -> one WebhookDelivery per matching subscription.

Idempotent: a delivery is unique per (subscription, piece, newest new event), inserted with
ON CONFLICT DO NOTHING, so running the fan-out twice for the same import makes no second
delivery. Deliveries are enqueued once the transaction commits.

Access: the decision is asked once per (provider, MID) per chunk (agreements.decision, cached)
and a subscription whose provider may not read the piece's MID now gets no delivery at all,
rather than a delivery that would only be BLOCKED at send time. Those events are not sent
later if access returns; events imported after that are (the decision is asked again then).
Delivery time still asks again: access can end between fan-out and POST.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max, Q

from accounts.models import Provider
from agreements.decision import decide_many
from tracking.constants import DeliveryStatus, SubscriptionFilter, SubscriptionStatus
from tracking.models import MailPiece, Subscription, TrackingEvent, WebhookDelivery
from tracking.webhooks.matching import matching_type

CHUNK = 1000


def _chunks(values: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fan_out(*, piece_ids: list[int], after_event_id: int | None = None) -> list[int]:
    """Create the deliveries for these pieces' new events; returns the ids of the deliveries
    waiting to be sent (new ones, or ones an earlier run created and nobody sent yet).

    "New" events are those with an id above `after_event_id` (the importer's high-water mark
    before it started) and above the newest event an earlier delivery of the same subscription
    and piece covered. Without `after_event_id` and without an earlier delivery, only the
    piece's newest stored event counts as new."""
    queued: list[int] = []
    for chunk in _chunks(sorted(set(piece_ids))):
        queued += _fan_out_chunk(chunk, after_event_id)
    return queued


def _fan_out_chunk(piece_ids: list[int], after_event_id: int | None) -> list[int]:
    pieces = list(MailPiece.objects.filter(pk__in=piece_ids).values("id", "mid", "tracking_number"))
    if not pieces:
        return []
    mids = {p["mid"] for p in pieces if p["mid"]}
    numbers = {p["tracking_number"] for p in pieces}
    subscriptions = list(
        Subscription.objects.filter(
            Q(filter_kind=SubscriptionFilter.MID, mid__in=mids)
            | Q(filter_kind=SubscriptionFilter.TRACKING_NUMBER, tracking_number__in=numbers),
            status=SubscriptionStatus.ENABLED,
            deleted_at__isnull=True,
        ).values("id", "provider_id", "filter_kind", "mid", "tracking_number", "event_types")
    )
    if not subscriptions:
        return []
    by_mid: dict[str, list[dict]] = defaultdict(list)
    by_number: dict[str, list[dict]] = defaultdict(list)
    for sub in subscriptions:
        if sub["filter_kind"] == SubscriptionFilter.MID:
            by_mid[sub["mid"]].append(sub)
        else:
            by_number[sub["tracking_number"]].append(sub)
    pairs = [
        (piece, sub)
        for piece in pieces
        for sub in (*by_mid.get(piece["mid"], ()), *by_number.get(piece["tracking_number"], ()))
    ]
    allowed = _allowed(pairs)
    pairs = [
        (piece["id"], sub) for piece, sub in pairs if (sub["provider_id"], piece["mid"]) in allowed
    ]
    if not pairs:
        return []
    matched_pieces = sorted({piece_id for piece_id, _ in pairs})
    events = TrackingEvent.objects.filter(piece_id__in=matched_pieces)
    if after_event_id is not None:
        events = events.filter(pk__gt=after_event_id)
    codes: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for piece_id, event_id, code in events.values_list("piece_id", "id", "event_code"):
        codes[piece_id].append((event_id, code))
    covered = {
        (row["subscription_id"], row["piece_id"]): row["newest"]
        for row in WebhookDelivery.objects.filter(
            piece_id__in=matched_pieces, subscription_id__in={sub["id"] for _, sub in pairs}
        )
        .values("subscription_id", "piece_id")
        .annotate(newest=Max("last_event_id"))
    }
    rows: list[WebhookDelivery] = []
    for piece_id, sub in pairs:
        floor = covered.get((sub["id"], piece_id))
        new = [(eid, code) for eid, code in codes.get(piece_id, ()) if floor is None or eid > floor]
        if after_event_id is None and floor is None and new:
            new = [max(new)]
        kind = matching_type(sub["event_types"], [code for _, code in new])
        if kind is None:
            continue
        rows.append(
            WebhookDelivery(
                subscription_id=sub["id"],
                piece_id=piece_id,
                last_event_id=max(eid for eid, _ in new),
                event_type=kind,
            )
        )
    if not rows:
        return []
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        wanted = {(r.subscription_id, r.piece_id, r.last_event_id) for r in rows}
        queued = [
            pk
            for pk, sub_id, piece_id, event_id in WebhookDelivery.objects.filter(
                piece_id__in=matched_pieces,
                last_event_id__in={r.last_event_id for r in rows},
                status=DeliveryStatus.PENDING,
                attempts=0,
            ).values_list("pk", "subscription_id", "piece_id", "last_event_id")
            if (sub_id, piece_id, event_id) in wanted
        ]
    return queued


def _allowed(pairs: list[tuple[dict, dict]]) -> set[tuple[int, str]]:
    """The (provider id, MID) pairs the access decision allows now: one decide_many per
    provider (cached answers, two queries for the rest). A piece without a MID is decided
    on nothing and denied, as at delivery time."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for piece, sub in pairs:
        if piece["mid"]:
            wanted[sub["provider_id"]].add(piece["mid"])
    providers = Provider.objects.in_bulk(list(wanted))
    allowed: set[tuple[int, str]] = set()
    for provider_id, mids in wanted.items():
        provider = providers.get(provider_id)
        if provider is None:
            continue
        decisions = decide_many(provider=provider, mids=sorted(mids))
        allowed |= {(provider_id, mid) for mid, d in decisions.items() if d.allowed}
    return allowed
