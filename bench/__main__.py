"""Entry point: ``DJANGO_SETTINGS_MODULE=config.settings.dev python -m bench``."""

from bench.runner import main

raise SystemExit(main())
