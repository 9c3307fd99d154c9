"""Subscriptions: create, update (listener URL, secret, status), delete, and replaying a
delivery. Keyword-only, atomic, audited; a refusal is a DomainError naming its field and
changes nothing. Secrets are never audited or logged, only the fact that one changed."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.decision import Decision, decide
from core.audit import audit_record
from core.errors import DomainError
from core.tracking_numbers import parse
from core.transitions import transition
from tracking.constants import (
    SUBSCRIPTION_TRANSITIONS,
    DeliveryStatus,
    SubscriptionFilter,
    SubscriptionStatus,
)
from tracking.models import ApiApp, Subscription, WebhookDelivery
from tracking.webhooks import inputs, listeners
from tracking.webhooks.secrets import MASK, encrypt_secret, validate_secret

# Live (not deleted) subscriptions one provider may hold; each is checked on every import.
MAX_SUBSCRIPTIONS_PER_PROVIDER = 100
CUSTOMER_STATUSES = frozenset({SubscriptionStatus.ENABLED, SubscriptionStatus.DISABLED})
FINAL_DELIVERY_STATUSES = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED}
)
DELETED_ERROR = "The subscription was deleted before this delivery was sent."


class AccessRefused(DomainError):
    """The access decision denied the MID (or the number's MID)."""

    def __init__(self, decision: Decision, *, field: str) -> None:
        reason = decision.reasons[0] if decision.reasons else None
        self.code = reason.code if reason else "DECISION_ERROR"
        self.bad_request = decision.is_bad_request
        target = decision.mid or "this tracking number"
        message = (
            f"Access to MID {target} is denied: {reason.message if reason else 'no reason'}"
            if decision.mid
            else f"Access is denied for {target}: {reason.message if reason else 'no reason'}"
        )
        super().__init__(message, field=field)


class StaleVersion(DomainError):
    """If-Match named an older version of the subscription."""


class SubscriptionGone(DomainError):
    """The subscription was deleted (by another request since it was read)."""


def _status_error(status: object) -> str | None:
    """Why a customer may not set this status, or None when they may."""
    if status in CUSTOMER_STATUSES:
        return None
    if status == SubscriptionStatus.SUSPENDED:
        return (
            "status can be set to ENABLED or DISABLED; SUSPENDED is set by the server when the "
            "listener cannot be reached."
        )
    return f"Unknown status {str(status)[:20]}; use ENABLED or DISABLED."


def _provider_id(subscription: Subscription) -> int:
    return subscription.provider_id


def _who(actor: Any | None, app: ApiApp | None) -> dict[str, Any]:
    return {"app_id": app.pk, "app": app.name} if app is not None else {}


@sensitive_variables("secret")
def subscription_create(
    *,
    provider: Provider,
    app: ApiApp | None,
    actor: Any | None,
    mid: str | None = None,
    tracking_number: str | None = None,
    event_types: list[str] | None = None,
    listener_url: str,
    secret: str,
    admin_emails: list[str],
    status: str | None = None,
) -> Subscription:
    """A new subscription, ENABLED unless `status` is DISABLED, if the access decision allows
    the MID (or the number's MID) now. Every input problem is reported at once, each on its
    field."""
    errors: dict[str, list[str]] = {}
    status = SubscriptionStatus.ENABLED if status is None else status
    spec = inputs.filter_spec(mid, tracking_number, errors)
    types = inputs.event_types(event_types, spec, errors)
    listener = inputs.field_check(errors, "listener_url", listeners.check_url, listener_url)
    inputs.field_check(errors, "secret", validate_secret, secret)
    emails = inputs.admin_emails(admin_emails, errors)
    if _status_error(status):
        errors["status"] = [_status_error(status)]
    if errors:
        first = next(iter(errors.values()))[0]
        raise DomainError(first, field_errors=errors)
    assert spec is not None and listener is not None  # noqa: S101 - no errors above
    if spec.kind == SubscriptionFilter.MID:
        decision = decide(provider=provider, mid=spec.mid)
    else:
        decision = decide(provider=provider, mid=parse(spec.tracking_number).mid)
    if not decision.allowed:
        field = "mid" if spec.kind == SubscriptionFilter.MID else "tracking_number"
        raise AccessRefused(decision, field=field)
    with transaction.atomic():
        locked = Provider.objects.select_for_update(no_key=True).get(pk=provider.pk)
        if locked.status == ProviderStatus.CLOSED:
            raise DomainError("This organisation is closed; it cannot subscribe to webhooks.")
        live = Subscription.objects.filter(provider=provider, deleted_at__isnull=True).count()
        if live >= MAX_SUBSCRIPTIONS_PER_PROVIDER:
            raise DomainError(
                f"An organisation can have at most {MAX_SUBSCRIPTIONS_PER_PROVIDER} "
                "subscriptions; delete one you no longer use first."
            )
        now = timezone.now()
        subscription = Subscription.objects.create(
            provider=provider,
            app=app,
            created_by=actor if getattr(actor, "pk", None) else None,
            filter_kind=spec.kind,
            mid=spec.mid,
            tracking_number=spec.tracking_number,
            event_types=types,
            listener_url=listener.url,
            secret_encrypted=encrypt_secret(secret),
            admin_emails=emails,
            status=status,
            status_changed_at=now,
        )
        audit_record(
            subject=subscription,
            action="webhook_subscription_create",
            actor=actor if getattr(actor, "pk", None) else None,
            provider_id=provider.pk,
            to_status=subscription.status,
            extra={
                "subscription": str(subscription.public_id),
                "filter": spec.kind,
                "mid": spec.mid,
                "tracking_number": spec.tracking_number,
                "event_types": types,
                "listener_url": listener.url,
                **_who(actor, app),
            },
        )
    return subscription


def _lock(subscription: Subscription, expected_version: int | None) -> Subscription:
    locked = Subscription.objects.select_for_update(no_key=True).get(pk=subscription.pk)
    if locked.deleted_at is not None:
        raise SubscriptionGone("This subscription was deleted.")
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(
            "The subscription changed since you read it (its ETag is no longer current); "
            "read it again and retry."
        )
    return locked


def _set_status(
    locked: Subscription, *, to_status: str, actor: Any | None, reason: str, extra: dict
) -> None:
    """One audited transition; the caller holds the row lock and bumps `version` with it."""
    changes: dict[str, Any] = {
        "status_changed_at": timezone.now(),
        "status_reason": reason if to_status == SubscriptionStatus.SUSPENDED else "",
        "version": locked.version + 1,
    }
    if to_status == SubscriptionStatus.ENABLED:
        changes["consecutive_failures"] = 0
    action = {
        SubscriptionStatus.ENABLED: "webhook_subscription_enable",
        SubscriptionStatus.DISABLED: "webhook_subscription_disable",
        SubscriptionStatus.SUSPENDED: "webhook_subscription_suspend",
    }[to_status]
    transition(
        instance=locked,
        to_status=to_status,
        table=SUBSCRIPTION_TRANSITIONS,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason,
        changes=changes,
        provider_id_of=_provider_id,
        extra={"subscription": str(locked.public_id), **extra},
        decision_fields=False,
    )


@sensitive_variables("secret")
def subscription_update(
    *,
    subscription: Subscription,
    actor: Any | None,
    app: ApiApp | None = None,
    listener_url: str | None = None,
    secret: str | None = None,
    status: str | None = None,
    expected_version: int | None = None,
) -> Subscription:
    """Change what a customer may change: the listener URL, the secret (the 32-asterisk mask
    keeps it) and the status, ENABLED or DISABLED. Enabling a SUSPENDED subscription resets
    its failure count. Filters never change: delete and create another subscription."""
    errors: dict[str, list[str]] = {}
    listener = None
    if listener_url is not None:
        listener = inputs.field_check(errors, "listener_url", listeners.check_url, listener_url)
    if secret == MASK:
        secret = None
    if secret is not None:
        inputs.field_check(errors, "secret", validate_secret, secret)
    if status is not None and _status_error(status):
        errors["status"] = [_status_error(status)]
    if errors:
        raise DomainError(next(iter(errors.values()))[0], field_errors=errors)
    who = _who(actor, app)
    with transaction.atomic():
        locked = _lock(subscription, expected_version)
        changed: list[str] = []
        fields: list[str] = []
        if listener is not None and listener.url != locked.listener_url:
            locked.listener_url = listener.url
            changed.append("listener_url")
            fields.append("listener_url")
        if secret is not None:
            locked.secret_encrypted = encrypt_secret(secret)
            changed.append("secret")
            fields.append("secret_encrypted")
        if fields:
            locked.version += 1
            locked.save(update_fields=[*fields, "version", "updated_at"])
            audit_record(
                subject=locked,
                action="webhook_subscription_update",
                actor=actor if getattr(actor, "pk", None) else None,
                provider_id=locked.provider_id,
                extra={
                    "subscription": str(locked.public_id),
                    "changed": changed,
                    "listener_url": locked.listener_url,
                    **who,
                },
            )
        if status is not None and status != locked.status:
            _set_status(locked, to_status=status, actor=actor, reason="", extra=who)
    _copy(locked, subscription)
    return subscription


def _copy(source: Subscription, target: Subscription) -> None:
    for field in Subscription._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def subscription_delete(
    *,
    subscription: Subscription,
    actor: Any | None,
    app: ApiApp | None = None,
    expected_version: int | None = None,
) -> Subscription:
    """Soft delete: the row stays for the delivery log; deliveries not yet sent stop. Locks
    the subscription, then its deliveries: the order every webhook transaction uses."""
    with transaction.atomic():
        locked = _lock(subscription, expected_version)
        now = timezone.now()
        locked.deleted_at = now
        locked.version += 1
        locked.save(update_fields=["deleted_at", "version", "updated_at"])
        stopped = WebhookDelivery.objects.filter(
            subscription=locked, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
        ).update(
            status=DeliveryStatus.FAILED,
            last_error=DELETED_ERROR,
            next_attempt_at=None,
            updated_at=now,
        )
        audit_record(
            subject=locked,
            action="webhook_subscription_delete",
            actor=actor if getattr(actor, "pk", None) else None,
            provider_id=locked.provider_id,
            from_status=locked.status,
            extra={
                "subscription": str(locked.public_id),
                "deliveries_stopped": stopped,
                **_who(actor, app),
            },
        )
    _copy(locked, subscription)
    return subscription


def subscription_suspend(*, subscription_id: int, reason: str) -> bool:
    """ENABLED -> SUSPENDED by the server (the listener keeps failing). True if it moved."""
    with transaction.atomic():
        locked = Subscription.objects.select_for_update(no_key=True).get(pk=subscription_id)
        if locked.deleted_at is not None or locked.status != SubscriptionStatus.ENABLED:
            return False
        _set_status(
            locked,
            to_status=SubscriptionStatus.SUSPENDED,
            actor=None,
            reason=reason,
            extra={"consecutive_failures": locked.consecutive_failures},
        )
    return True


def replay_delivery(*, delivery: WebhookDelivery, actor: Any | None) -> WebhookDelivery:
    """Send a finished delivery again: same delivery id, the next attempt marked as a replay
    (`replay_requested`, cleared when that attempt is claimed). The subscription must be
    ENABLED and the access decision must allow the piece's MID now."""
    from tracking.webhooks import tasks  # the task module imports the delivery services

    with transaction.atomic():
        # The subscription's row first, then the delivery's: the order of every webhook lock.
        list(
            Subscription.objects.select_for_update(no_key=True)
            .filter(pk=delivery.subscription_id)
            .values_list("pk", flat=True)
        )
        locked = (
            WebhookDelivery.objects.select_for_update(no_key=True, of=("self",))
            .select_related("subscription__provider", "piece")
            .get(pk=delivery.pk)
        )
        subscription = locked.subscription
        if locked.status not in FINAL_DELIVERY_STATUSES:
            raise DomainError(
                "This delivery is still waiting to be sent; it cannot be replayed until it has "
                "been delivered or has failed."
            )
        if subscription.deleted_at is not None:
            raise DomainError("The subscription was deleted; its deliveries cannot be replayed.")
        if subscription.status != SubscriptionStatus.ENABLED:
            raise DomainError(
                f"The subscription is {subscription.get_status_display().lower()}; enable it "
                "before replaying a delivery."
            )
        decision = decide(provider=subscription.provider, mid=locked.piece.mid or None)
        if not decision.allowed:
            raise AccessRefused(decision, field="delivery")
        from_status = locked.status
        locked.status = DeliveryStatus.PENDING
        locked.replay_requested = True
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "replay_requested", "next_attempt_at", "updated_at"])
        audit_record(
            subject=locked,
            action="webhook_delivery_replay",
            actor=actor if getattr(actor, "pk", None) else None,
            provider_id=subscription.provider_id,
            from_status=from_status,
            to_status=DeliveryStatus.PENDING,
            extra={"delivery": str(locked.public_id), "subscription": str(subscription.public_id)},
        )
        requested_by = actor.pk if getattr(actor, "pk", None) else None
        transaction.on_commit(lambda: tasks.deliver.delay(locked.pk, requested_by_id=requested_by))
    delivery.status, delivery.next_attempt_at = locked.status, locked.next_attempt_at
    return delivery
