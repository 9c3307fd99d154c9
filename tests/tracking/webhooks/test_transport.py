"""The HTTPS side of a POST: certificates are verified against the listener's name (SNI and
hostname check) while the connection goes to the pinned address. A local TLS server with a
self-signed certificate stands in for a listener: the POST must refuse it."""

import datetime
import http.server
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tracking.webhooks import listeners, transport


def self_signed(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):  # noqa: N802 - the stdlib's name
        Handler.hits.append(self.headers.get("Host", ""))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path):
    cert_file, key_file = self_signed(tmp_path, "listener.test")
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.hits.clear()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_untrusted_certificate_is_refused(tls_server):
    listener = listeners.Listener(
        url=f"https://listener.test:{tls_server}/hook",
        scheme="https",
        host="listener.test",
        port=tls_server,
        target="/hook",
        addresses=("127.0.0.1",),
    )

    answer = transport.post(listener=listener, body=b"{}", headers={})

    assert answer.status_code is None and not answer.ok
    assert "CERTIFICATE_VERIFY_FAILED" in answer.error or "certificate" in answer.error.lower()
    assert Handler.hits == []


@pytest.fixture
def dripping_listener():
    """A raw listener that reads the request, then sends its status line and headers one
    byte every 0.2 s: each read gets a byte well within the timeout, the answer would take
    about 10 s. `state` says how far it got."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    answer = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 25 + b"\r\n\r\n"
    state = {"sent": 0, "finished": False}

    def serve():
        conn, _ = server.accept()
        try:
            conn.recv(65536)
            for byte in answer:
                conn.send(bytes([byte]))
                state["sent"] += 1
                time.sleep(0.2)
            state["finished"] = True
        except OSError:
            pass  # the client hung up: what the deadline is for
        finally:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], state, len(answer)
    server.close()


def test_a_listener_dripping_its_headers_is_cut_off_at_the_deadline(dripping_listener, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    port, state, total = dripping_listener
    listener = listeners.Listener(
        url=f"http://drip.test:{port}/",
        scheme="http",
        host="drip.test",
        port=port,
        target="/",
        addresses=("127.0.0.1",),
    )

    answer = transport.post(listener=listener, body=b"{}", headers={})

    assert not state["finished"] and 0 < state["sent"] < total
    assert answer.status_code is None and not answer.ok
    assert answer.error.startswith("Timeout: the listener's answer was not complete within 1 s")
