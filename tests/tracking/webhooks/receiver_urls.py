"""The portal's own URLs plus a webhook receiver, for delivery tests against live_server.

The receiver runs in live_server's thread of this process, so it records what it got in
RECEIVED (a module-level list) and checks X-HMAC itself with the test secret, as a customer's
listener would: Base64(HMAC-SHA256(secret, timestamp + payload)).
"""

import base64
import hashlib
import hmac
import json
import threading
import time

from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as portal_urlpatterns

SECRET = "MySecretKeyPhraseIs32BytesLength"
RECEIVED: list[dict] = []
_lock = threading.Lock()


def _record(request) -> dict:
    body = json.loads(request.body)
    expected = base64.b64encode(
        hmac.new(
            SECRET.encode(), (body["timestamp"] + body["payload"]).encode(), hashlib.sha256
        ).digest()
    ).decode()
    entry = {
        "path": request.path,
        "headers": dict(request.headers),
        "body": body,
        "payload": json.loads(body["payload"]),
        "hmac_ok": hmac.compare_digest(expected, request.headers.get("X-HMAC", "")),
    }
    with _lock:
        RECEIVED.append(entry)
    return entry


@csrf_exempt
def ok(request):
    entry = _record(request)
    return HttpResponse(status=200 if entry["hmac_ok"] else 401)


@csrf_exempt
def failing(request):
    _record(request)
    return HttpResponse("listener broken", status=500)


@csrf_exempt
def redirecting(request):
    _record(request)
    return HttpResponseRedirect("/hooks/ok")


# /hooks/drip: a listener that answers 200 at once, then its body one byte every DRIP_EVERY
# seconds, DRIP_BYTES in all: each read is quick, the whole answer is not.
DRIP_EVERY = 0.2
DRIP_BYTES = 100
DRIP = {"sent": 0, "finished": False}


@csrf_exempt
def dripping(request):
    _record(request)
    DRIP.update(sent=0, finished=False)

    def body():
        for _ in range(DRIP_BYTES):
            time.sleep(DRIP_EVERY)
            DRIP["sent"] += 1
            yield b"."
        DRIP["finished"] = True

    return StreamingHttpResponse(body(), content_type="text/plain")


urlpatterns = [
    path("hooks/ok", ok),
    path("hooks/drip", dripping),
    path("hooks/fail", failing),
    path("hooks/redirect", redirecting),
    *portal_urlpatterns,
]
