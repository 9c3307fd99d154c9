"""File storage for uploads that must never be reachable by URL (letters of authorization).

Files live under settings.PRIVATE_MEDIA_ROOT, outside MEDIA_ROOT and STATIC_ROOT, and `url()`
refuses: the only way to read one is a view that checks who is asking and serves it as an
attachment.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class NoPublicURL(Exception):
    """A private file was asked for its URL; serve it through a permission-checked view."""


class PrivateStorage(FileSystemStorage):
    def __init__(self) -> None:
        super().__init__(base_url=None)

    # Read on every use rather than cached, so a changed PRIVATE_MEDIA_ROOT (tests) applies.
    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise NoPublicURL(
            f"{name!r} is private and has no URL; link to the view that serves it to the people "
            "allowed to read it."
        )


def private_storage() -> PrivateStorage:
    """The storage of private uploads (a callable, so migrations refer to it by name)."""
    return PrivateStorage()
