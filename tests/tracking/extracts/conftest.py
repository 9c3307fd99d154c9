"""Fixtures of the extract tests: private storage in a directory of the test's own, so a test
can assert exactly which files exist."""

import pytest


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT
