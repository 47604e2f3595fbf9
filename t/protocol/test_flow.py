"""RFC 8555 7.3-7.4.2 end to end with python3-acme (certbot's library),
an independent client: account, order, http-01, finalize, certificate."""

import subprocess

import pytest
from acme import challenges, crypto_util, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID


def _issue(client, http01_server, names, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    order = client.new_order(crypto_util.make_csr(key_pem, names))
    assert order.body.status == messages.STATUS_PENDING
    for authz in order.authorizations:
        assert authz.body.status == messages.STATUS_PENDING
        chall = next(c for c in authz.body.challenges
                     if isinstance(c.chall, challenges.HTTP01))
        resp, validation = chall.response_and_validation(client.net.key)
        http01_server[chall.chall.encode("token")] = validation
        client.answer_challenge(chall, resp)
    return client.poll_and_finalize(order)


def test_rfc8555_7_4_full_flow_issues_verifiable_certificate(
        new_client, http01_server, ca_cert_path, tmp_path):
    client = new_client()
    order = _issue(client, http01_server, ["www.example.test"])
    assert order.body.status == messages.STATUS_VALID
    pem = order.fullchain_pem
    certs = _load_chain(pem)
    leaf = certs[0]
    san = leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.example.test"]
    eku = leaf.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in list(eku)
    assert leaf.serial_number.bit_length() >= 64
    # the validator fetched the token with the right Host (RFC 8555 8.3)
    assert any(h and h.startswith("www.example.test")
               for _, h in http01_server.requests)
    (tmp_path / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in certs[1:]))
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", ca_cert_path, "-untrusted",
         str(tmp_path / "chain.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("kind", ["p256", "p384", "rsa2048", "rsa3072"])
def test_rfc5280_4_1_2_7_leaf_carries_the_csr_public_key(
        kind, new_client, http01_server, ca_cert_path, tmp_path):
    """The certificate's SubjectPublicKeyInfo is the CSR's, byte for byte
    (acme_ca_issue copies it field by field), and the chain verifies."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = {"p256": lambda: ec.generate_private_key(ec.SECP256R1()),
           "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
           "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
           "rsa3072": lambda: rsa.generate_private_key(65537, 3072)}[kind]()
    order = _issue(new_client(), http01_server, [kind + ".example.test"],
                   key=key)
    assert order.body.status == messages.STATUS_VALID
    certs = _load_chain(order.fullchain_pem)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert (certs[0].public_key().public_bytes(serialization.Encoding.DER,
                                               spki)
            == key.public_key().public_bytes(serialization.Encoding.DER,
                                             spki))
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(certs[0].public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                               for c in certs[1:]))
    out = subprocess.run(["openssl", "verify", "-CAfile", ca_cert_path,
                          "-untrusted", str(chain), str(leaf)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_rfc8555_7_4_two_names_duplicates_collapse(new_client,
                                                   http01_server):
    client = new_client()
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    csr = crypto_util.make_csr(key_pem, ["example.test", "www.example.test"])
    order = client.new_order(csr)
    values = sorted(i.value for i in order.body.identifiers)
    assert values == ["example.test", "www.example.test"]
    assert len(order.authorizations) == 2
    order = _issue(client, http01_server,
                   ["Example.TEST", "www.example.test"], key=key)
    assert order.body.status == messages.STATUS_VALID


def test_rfc8555_8_3_wrong_key_authorization_invalidates(new_client,
                                                         http01_server):
    client = new_client()
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    order = client.new_order(crypto_util.make_csr(key_pem,
                                                  ["www.example.test"]))
    authz = order.authorizations[0]
    chall = next(c for c in authz.body.challenges
                 if isinstance(c.chall, challenges.HTTP01))
    resp, _ = chall.response_and_validation(client.net.key)
    http01_server[chall.chall.encode("token")] = "not-the-key-authorization"
    client.answer_challenge(chall, resp)
    from acme import errors
    with pytest.raises(errors.ValidationError) as e:
        client.poll_authorizations(order, deadline=_deadline(30))
    failed = e.value.failed_authzrs[0].body
    assert failed.status == messages.STATUS_INVALID
    ch = next(c for c in failed.challenges
              if isinstance(c.chall, challenges.HTTP01))
    assert ch.error.typ == "urn:ietf:params:acme:error:incorrectResponse"


def _load_chain(pem):
    """PEM chain -> certificates (cryptography 38 has no
    load_pem_x509_certificates)."""
    end = "-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate((p + end).encode())
            for p in pem.split(end) if "BEGIN CERTIFICATE" in p]


def _deadline(seconds):
    import datetime
    return datetime.datetime.now() + datetime.timedelta(seconds=seconds)
