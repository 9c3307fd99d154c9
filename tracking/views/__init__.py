"""Portal pages of the tracking app: the API page (apps, usage charts, quick start, try it) and
the pages that create, rotate and revoke an app's credentials. Each module owns its routes."""
