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

from django.http import HttpResponse, HttpResponseRedirect
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


urlpatterns = [
    path("hooks/ok", ok),
    path("hooks/fail", failing),
    path("hooks/redirect", redirecting),
    *portal_urlpatterns,
]
