"""The staff admin for agreements and Mailer IDs, one module per review queue. Importing the
modules registers their ModelAdmins."""

from agreements.admin import mid_links, signatures, versions

__all__ = ["mid_links", "signatures", "versions"]
