"""Fixtures for the Mailer ID and owner-consent tests (none is autouse)."""

from pathlib import Path

import pytest


@pytest.fixture
def private_media(settings, tmp_path) -> Path:
    """Evidence uploads land in a fresh directory of this test's own."""
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []
