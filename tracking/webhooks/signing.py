"""X-HMAC, exactly as the USPS listener specification describes it:

    X-HMAC = Base64( HMAC-SHA256( key = secret, message = timestamp + payload ) )

where `timestamp` and `payload` are the values of the notification body's "timestamp" and
"payload" fields (payload is itself a JSON text, sent as a string), concatenated with nothing
between them and encoded as UTF-8 (both are ASCII: the payload is written with ensure_ascii).
The key is the subscription's 32-character secret, as UTF-8 bytes.
"""

import base64
import hashlib
import hmac


def sign(*, secret: str, timestamp: str, payload: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), (timestamp + payload).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(*, secret: str, timestamp: str, payload: str, signature: str) -> bool:
    """What a receiver does (docs/webhooks.md has the same in a snippet)."""
    expected = sign(secret=secret, timestamp=timestamp, payload=payload)
    return hmac.compare_digest(expected, signature)
