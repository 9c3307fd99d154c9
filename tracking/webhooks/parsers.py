"""The Subscriptions-Tracking API's JSON parser: the API's bounded parser with a refusal that
speaks of subscriptions (the tracking API's names its 35-number batches)."""

import io

from django.conf import settings
from rest_framework.exceptions import ParseError

from tracking.api.parsers import BoundedJSONParser


class SubscriptionJSONParser(BoundedJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        # One byte past the limit, as the base parser reads: a chunked body has no
        # Content-Length to check first. What fits is handed on to it unchanged.
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(
                f"The body is over {limit:,} bytes; a subscription (listener URL, secret, up to "
                "3 e-mail addresses and one filter) takes well under 1 KB."
            )
        return super().parse(io.BytesIO(raw), media_type, parser_context)
