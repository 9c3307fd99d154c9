"""Signed download links of built extracts.

A link carries the extract's public id and its provider's id, signed with the project's
SECRET_KEY under a salt of its own (so no other signed value of the project can pass for one),
and stamped with the time it was made: it works for EXTRACT_LINK_TTL_HOURS. The view still
checks the extract itself (READY, not past expires_at) and the person (a member of that
provider), so a link is never more than a pointer.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from tracking.models import Extract

SALT = "tracking.extracts.download"


class BadLink(Exception):
    """Tampered, truncated or signed for something else: answered as not found."""


class LinkExpired(Exception):
    """Genuine, but older than the link lifetime."""


@dataclass(frozen=True, slots=True)
class LinkTarget:
    public_id: str
    provider_id: int


class _Signer(signing.TimestampSigner):
    def __init__(self, *, issued_at: float | None = None) -> None:
        super().__init__(salt=SALT)
        self._issued_at = issued_at

    def timestamp(self) -> str:
        moment = time.time() if self._issued_at is None else self._issued_at
        return signing.b62_encode(int(moment))


def link_lifetime() -> timedelta:
    return timedelta(hours=settings.EXTRACT_LINK_TTL_HOURS)


def make_token(*, extract: Extract, issued_at: float | None = None) -> str:
    """`issued_at` (epoch seconds) is for tests that need an old link."""
    payload = {"e": str(extract.public_id), "p": extract.provider_id}
    return _Signer(issued_at=issued_at).sign_object(payload, compress=False)


def download_url(*, extract: Extract) -> str:
    return reverse("tracking:extract_download", kwargs={"token": make_token(extract=extract)})


def read_token(token: str) -> LinkTarget:
    """The link's target, whatever its age (raises BadLink). Check `check_age` separately, so
    that an old link to another provider's extract is still a 404, not a 410."""
    try:
        payload = _Signer().unsign_object(token)
        return LinkTarget(public_id=str(payload["e"]), provider_id=int(payload["p"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadLink from exc


def check_age(token: str) -> None:
    try:
        _Signer().unsign(token, max_age=link_lifetime())
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise BadLink from exc
