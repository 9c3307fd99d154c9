"""The one way a status changes: lock, check the table, save, audit, invalidate.

Every transition service (provider, agreement, schedule line, MID link) goes through
`transition()`, so the rules hold everywhere and are tested once per table.

Row locks here and in the services are FOR NO KEY UPDATE: no service ever changes a primary
key, and a plain FOR UPDATE would also block the KEY SHARE lock PostgreSQL takes on a row
that a new row references (an audit entry pointing at its provider). Two reviewers, one
locking the provider then the agreement and one locking the agreement then writing an audit
entry about that provider, then deadlocked.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from core import access_cache
from core.audit import audit_record
from core.errors import DomainError, InvalidTransition

M = TypeVar("M", bound=models.Model)


def _status_label(model: type[models.Model], status: str) -> str:
    return dict(model._meta.get_field("status").choices).get(status, status)


def transition(
    *,
    instance: M,
    to_status: str,
    table: Mapping[str, frozenset[str]],
    action: str,
    actor: Any | None,
    reason: str = "",
    reason_required: bool = False,
    changes: Mapping[str, Any] | None = None,
    provider_id_of: Callable[[M], int],
    extra: dict[str, Any] | None = None,
    decision_fields: bool = True,
    only_from: frozenset[str] | None = None,
) -> M:
    """Move `instance` to `to_status` under a row lock, or raise and change nothing.

    `only_from` narrows the table for services that share a target status (approve and
    reinstate both lead to ACTIVE). `changes` are further fields to set with the status.
    With `decision_fields`, decided_by/decided_at/decision_reason record who, when and why.
    """
    reason = reason.strip()
    model = type(instance)
    if reason_required and not reason:
        raise DomainError(f"A reason is required to {action.replace('_', ' ')} {instance}.")
    with transaction.atomic():
        locked = model.objects.select_for_update(no_key=True).get(pk=instance.pk)
        from_status = locked.status
        allowed = table[from_status]
        if to_status not in allowed or (only_from is not None and from_status not in only_from):
            options = ", ".join(sorted(allowed)) or "nothing (it is final)"
            raise InvalidTransition(
                f"Cannot {action.replace('_', ' ')} {locked}: it is "
                f"{_status_label(model, from_status)}, and from {from_status} it can only move "
                f"to {options}."
            )
        updates: dict[str, Any] = {"status": to_status, **(changes or {})}
        if decision_fields:
            updates |= {
                "decided_by": actor if actor is not None and actor.is_authenticated else None,
                "decided_at": timezone.now(),
                "decision_reason": reason,
            }
        for field, value in updates.items():
            setattr(locked, field, value)
        update_fields = list(updates)
        if any(f.name == "updated_at" for f in model._meta.concrete_fields):
            update_fields.append("updated_at")
        locked.save(update_fields=update_fields)
        provider_id = provider_id_of(locked)
        audit_record(
            subject=locked,
            action=action,
            actor=actor,
            provider_id=provider_id,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            extra=extra,
        )
        access_cache.bump_provider(provider_id)
    # Keep the caller's instance in step with the row, as if it had been reloaded.
    for field in update_fields:
        setattr(instance, field, getattr(locked, field))
    return instance
