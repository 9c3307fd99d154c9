"""The API's JSON parser: DRF's, bounded. A 35-item batch is a few kilobytes; a body of
megabytes or of absurdly deep nesting is refused with a 400 before it is parsed."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        # Read one byte past the limit: a chunked body has no Content-Length to check first.
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(
                f"The body is over {limit:,} bytes; send at most 35 tracking numbers a request."
            )
        try:
            return json.loads(raw.decode(settings.DEFAULT_CHARSET))
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"The body is not valid JSON ({type(exc).__name__}).") from exc
