"""The admin app configured with the staff site, so `admin.site` everywhere is that site."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with config.admin_site.StaffAdminSite as its default site.

    Every `@admin.register` and `admin.site` in the project and in installed apps then lands on
    the site that requires two-factor authentication; nothing else needs to know about it.
    """

    default_site = "config.admin_site.StaffAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin module
        from django.contrib import admin
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # django-otp registers its TOTP devices; their page would show each staff member's
        # secret key. Devices are enrolled with `manage.py staff_totp_enrol` instead.
        if admin.site.is_registered(TOTPDevice):
            admin.site.unregister(TOTPDevice)
