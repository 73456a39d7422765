"""Authentication options of the Client (no kringd): the bearer token as
metadata on every call, the token from $KRING_TOKEN, TLS and mTLS against an
in-process fake ResearchService, and refusals (UNAUTHENTICATED,
PERMISSION_DENIED) as ResearchError."""

import datetime
from concurrent import futures

import grpc
import pytest

from kring_research import Client, ResearchError, research_pb2 as pb, research_pb2_grpc
from kring_research.client import auth_metadata

TOKEN = "krt_" + "A" * 43


class FakeResearch(research_pb2_grpc.ResearchServiceServicer):
    """Answers researchers only: no token UNAUTHENTICATED, another token PERMISSION_DENIED."""

    def __init__(self):
        self.metadata = []  # per call: the invocation metadata as a dict
        self.peers = []     # per call: the client certificate's CN, if any

    def GetNetworkSize(self, request, context):
        md = dict(context.invocation_metadata())
        self.metadata.append(md)
        cn = context.auth_context().get("x509_common_name")
        self.peers.append(cn[0].decode() if cn else None)
        if "authorization" not in md and cn is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no credentials: a client certificate or a bearer token")
        if "authorization" in md and md["authorization"] != f"Bearer {TOKEN}":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "identity 'ops' (operator) may not call ResearchService")
        return pb.NetworkSizeResponse()


def start(servicer, credentials=None):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    research_pb2_grpc.add_ResearchServiceServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, port


@pytest.fixture()
def plaintext():
    servicer = FakeResearch()
    server, port = start(servicer)
    yield f"127.0.0.1:{port}", servicer
    server.stop(None)


def test_auth_metadata():
    assert auth_metadata(TOKEN) == (("authorization", f"Bearer {TOKEN}"),)
    assert auth_metadata(None) == () and auth_metadata("") == ()
    with pytest.raises(ValueError, match="^token"):
        auth_metadata("krt_with space")
    with pytest.raises(ValueError, match="^token"):
        auth_metadata("krt_\n")


def test_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("KRING_TOKEN", TOKEN)
    with Client("127.0.0.1:1") as c:
        assert c.metadata == (("authorization", f"Bearer {TOKEN}"),)
    with Client("127.0.0.1:1", token="") as c:  # "" turns the environment's token off
        assert c.metadata == ()
    with Client("127.0.0.1:1", token="krt_other") as c:  # an explicit token wins
        assert c.metadata == (("authorization", "Bearer krt_other"),)
    monkeypatch.delenv("KRING_TOKEN")
    with Client("127.0.0.1:1") as c:
        assert c.metadata == ()
    with pytest.raises(ValueError, match="^token"):
        Client("127.0.0.1:1", token=b"krt_bytes")


def test_token_is_sent_on_every_call_over_plaintext(plaintext, monkeypatch):
    monkeypatch.delenv("KRING_TOKEN", raising=False)
    target, servicer = plaintext
    with Client(target, token=TOKEN, timeout=10) as c:
        c.network_size()
        c.network_size(group_by="year")
    assert [md.get("authorization") for md in servicer.metadata] == [f"Bearer {TOKEN}"] * 2


def test_token_is_added_to_a_channel_passed_in(plaintext):
    target, servicer = plaintext
    channel = grpc.insecure_channel(target)
    with Client(channel=channel, token=TOKEN, timeout=10) as c:
        c.network_size()
    assert servicer.metadata[-1]["authorization"] == f"Bearer {TOKEN}"
    channel.close()


def test_refusals_become_research_error_with_the_code(plaintext, monkeypatch):
    monkeypatch.delenv("KRING_TOKEN", raising=False)
    target, servicer = plaintext
    with Client(target, timeout=10) as c:
        with pytest.raises(ResearchError) as info:
            c.network_size()
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "UNAUTHENTICATED" in str(info.value) and info.value.method == "GetNetworkSize"
    assert "authorization" not in servicer.metadata[-1]

    with Client(target, token="krt_operator_token", timeout=10) as c:
        with pytest.raises(ResearchError) as info:
            c.network_size()
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "may not call" in info.value.details


def test_tls_options_are_checked_before_any_call(tmp_path):
    with pytest.raises(ValueError, match="^root_certificates: cannot read"):
        Client("127.0.0.1:1", root_certificates=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="^certificate_chain: needs private_key"):
        Client("127.0.0.1:1", root_certificates=b"pem", certificate_chain=b"pem")
    with pytest.raises(ValueError, match="^private_key: needs certificate_chain"):
        Client("127.0.0.1:1", root_certificates=b"pem", private_key=b"pem")
    with pytest.raises(ValueError, match="^private_key: needs root_certificates"):
        Client("127.0.0.1:1", private_key=b"pem", certificate_chain=b"pem")
    with pytest.raises(ValueError, match="^server_name: needs root_certificates"):
        Client("127.0.0.1:1", server_name="kringd.test")
    with pytest.raises(ValueError, match="^root_certificates: give either"):
        Client("127.0.0.1:1", grpc.ssl_channel_credentials(), root_certificates=b"pem")
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="^root_certificates: empty"):
        Client("127.0.0.1:1", root_certificates=empty)


# ---------------------------------------------------------------------------
# TLS and mTLS with certificates made for the test
# ---------------------------------------------------------------------------


def _pki(tmp_path):
    """A CA, a server certificate for DNS name kringd.test and a client
    certificate with CN umcg-team; PEM files in tmp_path."""
    x509 = pytest.importorskip("cryptography.x509", reason="the TLS tests make certificates with cryptography")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject, key, issuer, issuer_key, ca=False, san=None, usage=None):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def pem_key(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = cert("kring test CA", ca_key, "kring test CA", ca_key, ca=True)
    server = cert("kringd.test", server_key, "kring test CA", ca_key, san="kringd.test",
                  usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client = cert("umcg-team", client_key, "kring test CA", ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    files = {}
    for label, data in [("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
                        ("server.pem", server.public_bytes(serialization.Encoding.PEM)),
                        ("server.key", pem_key(server_key)),
                        ("client.pem", client.public_bytes(serialization.Encoding.PEM)),
                        ("client.key", pem_key(client_key))]:
        (tmp_path / label).write_bytes(data)
        files[label] = tmp_path / label
    return files


def _tls_server(tmp_path, require_client_auth):
    pki = _pki(tmp_path)
    credentials = grpc.ssl_server_credentials(
        [(pki["server.key"].read_bytes(), pki["server.pem"].read_bytes())],
        root_certificates=pki["ca.pem"].read_bytes() if require_client_auth else None,
        require_client_auth=require_client_auth)
    servicer = FakeResearch()
    server, port = start(servicer, credentials)
    return server, (f"127.0.0.1:{port}", servicer, pki)


@pytest.fixture()
def tls(tmp_path):
    server, fixture = _tls_server(tmp_path, require_client_auth=False)
    yield fixture
    server.stop(None)


@pytest.fixture()
def mtls(tmp_path):
    server, fixture = _tls_server(tmp_path, require_client_auth=True)
    yield fixture
    server.stop(None)


def test_tls_with_a_token(tls, monkeypatch):
    monkeypatch.delenv("KRING_TOKEN", raising=False)
    target, servicer, pki = tls
    # Paths (str and Path) and bytes are all accepted.
    with Client(target, root_certificates=str(pki["ca.pem"]), server_name="kringd.test", token=TOKEN,
                timeout=10) as c:
        c.network_size()
    assert servicer.metadata[-1]["authorization"] == f"Bearer {TOKEN}" and servicer.peers[-1] is None
    with Client(target, root_certificates=pki["ca.pem"].read_bytes(), server_name="kringd.test", token="",
                timeout=10) as c:
        with pytest.raises(ResearchError) as info:
            c.network_size()
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_mtls_client_certificate(mtls, monkeypatch):
    monkeypatch.delenv("KRING_TOKEN", raising=False)
    target, servicer, pki = mtls
    with Client(target, root_certificates=pki["ca.pem"], private_key=pki["client.key"],
                certificate_chain=pki["client.pem"], server_name="kringd.test", timeout=10) as c:
        c.network_size()
    assert servicer.peers[-1] == "umcg-team"
    assert "authorization" not in servicer.metadata[-1]


def test_tls_checks_the_server_name(tls):
    target, servicer, pki = tls
    # The certificate names kringd.test, not 127.0.0.1: without the override the handshake fails.
    with Client(target, root_certificates=pki["ca.pem"], token=TOKEN, timeout=5) as c:
        with pytest.raises(ResearchError) as info:
            c.network_size()
    assert info.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert servicer.metadata == []
