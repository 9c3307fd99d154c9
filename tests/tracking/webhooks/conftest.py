from tests.tracking.webhooks.helpers import receiver  # noqa: F401 - a fixture
