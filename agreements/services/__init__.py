"""Writes for agreement versions, signatures, schedule lines, MID links and owner consent.

Each status change is one service built on `core.transitions.transition`, which locks
the row, checks the table in constants.py, saves, audits and invalidates cached decisions.
"""

from agreements.services.consents import (
    consent_approve,
    consent_decline,
    consent_grant,
    consent_revoke,
)
from agreements.services.mid_links import (
    mid_link_reject,
    mid_link_request,
    mid_link_revoke,
    mid_link_verify,
    mid_link_withdraw,
)
from agreements.services.schedule_lines import (
    schedule_line_approve,
    schedule_line_reject,
    schedule_line_revoke,
)
from agreements.services.signatures import (
    agreement_approve,
    agreement_reinstate,
    agreement_reject,
    agreement_sign,
    agreement_suspend,
    agreement_terminate,
)
from agreements.services.versions import (
    agreement_version_create,
    agreement_version_publish,
    agreement_version_update,
    canonical_text,
    text_sha256,
)

__all__ = [
    "agreement_approve",
    "agreement_reinstate",
    "agreement_reject",
    "agreement_sign",
    "agreement_suspend",
    "agreement_terminate",
    "agreement_version_create",
    "agreement_version_publish",
    "agreement_version_update",
    "canonical_text",
    "consent_approve",
    "consent_decline",
    "consent_grant",
    "consent_revoke",
    "mid_link_reject",
    "mid_link_request",
    "mid_link_revoke",
    "mid_link_verify",
    "mid_link_withdraw",
    "schedule_line_approve",
    "schedule_line_reject",
    "schedule_line_revoke",
    "text_sha256",
]
