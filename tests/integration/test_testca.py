# test_testca.py: the fake IdP's test CA and server certificate pass a
# strict X.509 verifier (VERIFY_X509_STRICT, Python 3.13's default: key
# identifiers, key usage), so TLS to the fake IdP and the stand-ins works
# on Debian 13 as on Debian 12.
import socket
import ssl
import threading


def test_fake_idp_certificates_pass_strict_verification(idp):
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(idp.dir + "/server.pem", idp.dir + "/server.key")
    client = ssl.create_default_context(cafile=idp.ca_file)
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(10)
        accepted = threading.Thread(target=lambda: serve_one(listener, server))
        accepted.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert tls.version() in ("TLSv1.2", "TLSv1.3")
        finally:
            accepted.join(timeout=10)


def serve_one(listener, context):
    """Accept one connection and finish its handshake (errors are the client's to see)."""
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass
