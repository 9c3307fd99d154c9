"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

# Deployment entry point: production unless told otherwise, never dev's relaxed defaults.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_asgi_application()
