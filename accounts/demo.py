"""Demo data for a local portal: idempotent, so running it again changes nothing."""

from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import User


class DemoDataRefused(Exception):
    """Demo data carries well-known passwords and must never reach production."""


@dataclass
class SeededUser:
    email: str
    password: str
    role: str
    created: bool


@dataclass
class DemoReport:
    users: list[SeededUser] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def created_anything(self) -> bool:
        return any(user.created for user in self.users)


def _seed_user(*, email: str, role: str, superuser: bool = False) -> SeededUser:
    password = settings.DEMO_PASSWORD
    user = User.objects.filter(email=email).first()
    created = user is None
    if created:
        factory = User.objects.create_superuser if superuser else User.objects.create_user
        factory(email=email, password=password)
    return SeededUser(email=email, password=password, role=role, created=created)


@transaction.atomic
def seed_demo() -> DemoReport:
    if not settings.DEMO_DATA_ALLOWED:
        raise DemoDataRefused(
            "seed_demo is disabled by these settings (DEMO_DATA_ALLOWED is off, as in production)."
        )
    report = DemoReport()
    report.users.append(_seed_user(email="admin@example.com", role="superuser", superuser=True))
    return report
