#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets (t/fuzz/corpus/<target>/).

    /usr/bin/python3 t/fuzz/make_seeds.py [OUTDIR]

    /usr/bin/python3 t/fuzz/make_seeds.py --keys   (the fixed public JWKs)

Needs Debian's python3-cryptography and python3-josepy.  Every key is
derived from a fixed value: the RFC 7515 A.3 P-256 key, the RFC 8037 A.1
Ed25519 key, P-384/P-521 keys from fixed scalars and RSA keys whose primes
are searched in a fixed SHA-256 stream.  fuzz_common.h holds the same
public keys, so that seeds signed here verify in the targets.  ECDSA and
PSS signatures are randomized: regenerating rewrites those files with
equivalent ones.  Regenerate with this script, never by hand.
"""

import functools
import hashlib
import ipaddress
import json
import os
import struct
import sys

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (ec, ed25519, padding,
                                                       rsa)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
URL = "https://acme.test/acme/"
NONCE = "AAAAAGVT8QABI0VniavN7wOKbcFHsHG7o00wgzlprbQ"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return jose.b64encode(data).decode()


def unb64(s):
    return jose.b64decode(s)


def uint(s):
    return int.from_bytes(unb64(s), "big")


# --- fixed keys (the same public keys are in fuzz_common.h) -------------

# RFC 7515 A.3.1
EC256 = ec.derive_private_key(
    uint("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"), ec.SECP256R1())
# RFC 8037 A.1
ED = ed25519.Ed25519PrivateKey.from_private_bytes(
    unb64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
EC384 = ec.derive_private_key(
    int.from_bytes(hashlib.sha384(b"fuzz P-384").digest(), "big") >> 8,
    ec.SECP384R1())
EC521 = ec.derive_private_key(
    int.from_bytes(hashlib.sha512(b"fuzz P-521").digest(), "big"),
    ec.SECP521R1())


def _stream(label):
    """An endless deterministic byte stream (SHA-256 in counter mode)."""
    i = 0
    while True:
        yield from hashlib.sha256(label + struct.pack(">I", i)).digest()
        i += 1


def _probable_prime(n):
    if n < 4 or n % 2 == 0:
        return n in (2, 3)
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    # fixed bases: plenty for numbers that nobody chose adversarially
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(label, bits):
    st = _stream(label)
    for _ in range(100000):
        c = int.from_bytes(bytes(next(st) for _ in range(bits // 8)), "big")
        c |= (3 << (bits - 2)) | 1
        if c % 65537 != 1 and _probable_prime(c):
            return c
    raise RuntimeError("no prime found")


@functools.lru_cache(maxsize=None)
def _rsa(label, bits):
    p = _prime(label + b" p", bits // 2)
    q = _prime(label + b" q", bits // 2)
    e = 65537
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    pub = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), pub
    ).private_key()


RSA2048 = _rsa(b"fuzz RSA-2048", 2048)


def jwk_of(key):
    """The public JWK (dict) of a private key."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    if isinstance(key, rsa.RSAPrivateKey):
        return jose.JWKRSA(key=key.public_key()).to_partial_json()
    return jose.JWKEC(key=key.public_key()).to_partial_json()


# --- JWS -------------------------------------------------------------

HASH = {"256": hashes.SHA256(), "384": hashes.SHA384(),
        "512": hashes.SHA512()}
COORD = {"256": 32, "384": 48, "512": 66}


def sign(alg, key, data):
    if alg == "EdDSA":
        return key.sign(data)
    h = HASH[alg[2:]]
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    n = COORD[alg[2:]]
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


def jws(alg, key, payload, kid=None, extra=None, url=URL + "new-account",
        nonce=NONCE):
    hdr = {"alg": alg}
    if kid:
        hdr["kid"] = kid
    else:
        hdr["jwk"] = jwk_of(key)
    if nonce is not None:
        hdr["nonce"] = nonce
    if url is not None:
        hdr["url"] = url
    hdr.update(extra or {})
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload)
    prot = b64(json.dumps(hdr))
    pay = b64(payload)
    sig = b64(sign(alg, key, (prot + "." + pay).encode()))
    return {"protected": prot, "payload": pay, "signature": sig}


def jws_seeds():
    kid = URL + "acct/1qLZz9WtNvbA6IbKd5Xy0g"
    acct = {"termsOfServiceAgreed": True,
            "contact": ["mailto:admin@example.com"]}
    order = {"identifiers": [{"type": "dns", "value": "example.com"},
                             {"type": "ip", "value": "192.0.2.1"}]}
    csr, _ = csr_der([("dns", "example.com")], key=EC384)
    fin = {"csr": b64(csr)}
    s = {}
    for alg, key in (("ES256", EC256), ("ES384", EC384), ("ES512", EC521),
                     ("RS256", RSA2048), ("RS384", RSA2048),
                     ("RS512", RSA2048), ("PS256", RSA2048),
                     ("PS512", RSA2048), ("EdDSA", ED)):
        s["jwk-" + alg.lower()] = jws(alg, key, acct)
    for alg, key in (("ES256", EC256), ("RS256", RSA2048),
                     ("PS384", RSA2048), ("EdDSA", ED)):
        s["kid-" + alg.lower()] = jws(alg, key, order, kid=kid,
                                      url=URL + "new-order")
    s["kid-post-as-get"] = jws("ES256", EC256, "", kid=kid,
                               url=URL + "order/1")
    s["kid-finalize"] = jws("ES256", EC256, fin, kid=kid,
                            url=URL + "finalize/1")
    s["kid-revoke"] = jws("RS256", RSA2048, {"certificate": b64(csr),
                                             "reason": 4}, kid=kid)
    s["kid-keychange"] = jws("ES256", EC256, jws("EdDSA", ED, {
        "account": kid, "oldKey": jwk_of(EC256)}), kid=kid)
    s["jwk-no-nonce"] = jws("ES256", EC256, acct, nonce=None)
    s["jwk-no-url"] = jws("ES256", EC256, acct, url=None)
    s["jwk-empty-payload-object"] = jws("ES256", EC256, {})

    # one per check of STYLE.md 4, step 2 to 5
    bad = jws("ES256", EC256, acct)
    sig = bytearray(unb64(bad["signature"]))
    sig[3] ^= 1
    s["bad-signature"] = dict(bad, signature=b64(bytes(sig)))
    s["bad-signature-short"] = dict(bad, signature=b64(bytes(sig[:40])))
    s["bad-padding"] = dict(bad, protected=bad["protected"] + "=")
    s["bad-unprotected-header"] = dict(bad, header={"kid": kid})
    s["bad-alg-none"] = jws("ES256", EC256, acct, extra={"alg": "none"})
    s["bad-alg-hs256"] = jws("ES256", EC256, acct, extra={"alg": "HS256"})
    s["bad-alg-curve"] = jws("ES256", EC256, acct, extra={"alg": "ES384"})
    s["bad-alg-keytype"] = jws("ES256", EC256, acct, extra={"alg": "RS256"})
    s["bad-jwk-and-kid"] = jws("ES256", EC256, acct, extra={"kid": kid})
    s["bad-jwk-private"] = jws("ES256", EC256, acct, extra={
        "jwk": dict(jwk_of(EC256), d="AAAA")})
    s["bad-nonce-number"] = jws("ES256", EC256, acct, extra={"nonce": 1})
    s["bad-kid-object"] = jws("ES256", EC256, acct, kid=kid,
                              extra={"kid": {}})
    s["bad-protected-array"] = dict(bad, protected=b64("[1,2]"))
    s["bad-general"] = {"payload": bad["payload"], "signatures": [
        {"protected": bad["protected"], "signature": bad["signature"]}]}

    out = {k: json.dumps(v, separators=(",", ":")).encode()
           for k, v in s.items()}
    raw = json.dumps(bad, separators=(",", ":"))
    out["bad-duplicate"] = (raw[:-1] + ',"payload":""}').encode()
    out["bad-not-json"] = raw[:-7].encode()
    out["bad-nested"] = b"[" * 64 + b"]" * 64
    out["bad-null"] = b"null"
    out["bad-empty"] = b""
    return out


# --- JWK -------------------------------------------------------------

def jwk_seeds():
    s = {}
    s["ec-p256"] = jwk_of(EC256)
    s["ec-p384"] = jwk_of(EC384)
    s["ec-p521"] = jwk_of(EC521)
    s["okp-ed25519"] = jwk_of(ED)
    s["rsa-2048"] = jwk_of(RSA2048)
    s["rsa-4096"] = jwk_of(_rsa(b"fuzz RSA-4096", 4096))
    s["rsa-8192-plus-1"] = dict(jwk_of(RSA2048), n=b64(b"\x01" + b"\0" * 1024))
    s["rsa-1024"] = jwk_of(_rsa(b"fuzz RSA-1024", 1024))
    s["rsa-leading-zero"] = dict(jwk_of(RSA2048),
                                 n=b64(b"\0" + unb64(jwk_of(RSA2048)["n"])))
    s["rsa-even-e"] = dict(jwk_of(RSA2048), e=b64(b"\x01\x00\x00"))
    s["rsa-e-1"] = dict(jwk_of(RSA2048), e="AQ")
    s["rsa-private-d"] = dict(jwk_of(RSA2048), d="AQAB")
    s["rsa-number-n"] = dict(jwk_of(RSA2048), n=12345)
    s["ec-private-d"] = dict(jwk_of(EC256), d=b64(b"\x01" * 32))
    s["ec-not-on-curve"] = dict(jwk_of(EC256), y=b64(b"\x01" * 32))
    s["ec-short-x"] = dict(jwk_of(EC256), x=b64(b"\x01" * 31))
    s["ec-crv-p192"] = dict(jwk_of(EC256), crv="P-192")
    s["ec-crv-mismatch"] = dict(jwk_of(EC384), crv="P-256")
    s["okp-x25519"] = dict(jwk_of(ED), crv="X25519")
    s["okp-ed448"] = dict(jwk_of(ED), crv="Ed448")
    s["okp-padding"] = dict(jwk_of(ED), x=jwk_of(ED)["x"] + "=")
    s["oct"] = {"kty": "oct", "k": "AAAA"}
    s["no-kty"] = {"crv": "P-256"}
    s["kty-array"] = {"kty": ["EC"]}
    s["extra-members"] = dict(jwk_of(EC256), use="sig", kid="1",
                              alg="ES256")
    out = {k: json.dumps(v, separators=(",", ":")).encode()
           for k, v in s.items()}
    out["not-object"] = b'["EC"]'
    out["duplicate-kty"] = b'{"kty":"EC","kty":"RSA"}'
    return out


# --- CSR -------------------------------------------------------------

def csr_der(idents, key=None, cn=None, extra=(), sig_hash=None,
            cn_list=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = []
    for t, v in idents:
        if t == "dns":
            names.append(x509.DNSName(v))
        else:
            names.append(x509.IPAddress(ipaddress.ip_address(v)))
    names.extend(extra)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, c)
             for c in (cn_list or ([cn] if cn else []))]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names),
                            critical=False)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        h = None
    else:
        h = sig_hash or hashes.SHA256()
    return b.sign(key, h).public_bytes(serialization.Encoding.DER), key


def csr_seeds():
    """The name lists are the targets' (fuzz_csr.c)."""
    one = [("dns", "example.com")]
    two = [("dns", "example.com"), ("dns", "www.example.com")]
    mixed = [("ip", "192.0.2.1"), ("dns", "example.com")]
    v6 = [("ip", "2001:db8::1")]
    wild = [("dns", "*.example.com"), ("dns", "example.com")]
    k = ec.derive_private_key(7, ec.SECP256R1())
    s = {}
    s["ok-one"] = csr_der(one, key=k)[0]
    s["ok-one-cn"] = csr_der(one, key=k, cn="example.com")[0]
    s["ok-two"] = csr_der(two, key=EC384)[0]
    s["ok-mixed"] = csr_der(mixed, key=k)[0]
    s["ok-v6"] = csr_der(v6, key=k)[0]
    s["ok-wildcard"] = csr_der(wild, key=k, cn="*.example.com")[0]
    s["ok-rsa"] = csr_der(two, key=RSA2048)[0]
    s["ok-upper"] = csr_der([("dns", "EXAMPLE.com")], key=k)[0]
    s["ok-ed25519"] = csr_der(one, key=ED)[0]
    s["ok-sha512"] = csr_der(one, key=k, sig_hash=hashes.SHA512())[0]
    s["account-key"] = csr_der(one, key=EC256)[0]
    s["p521-key"] = csr_der(one, key=EC521)[0]
    s["rsa-1024"] = csr_der(one, key=_rsa(b"fuzz RSA-1024", 1024))[0]
    s["extra-name"] = csr_der(one + [("dns", "evil.example")], key=k)[0]
    s["missing-name"] = csr_der(one, key=EC384)[0]
    s["cn-not-san"] = csr_der(one, key=k, cn="other.example")[0]
    s["two-cns"] = csr_der(one, key=k,
                           cn_list=["example.com", "evil.example"])[0]
    s["email-san"] = csr_der(one, key=k, extra=[
        x509.RFC822Name("a@example.com")])[0]
    s["uri-san"] = csr_der(one, key=k, extra=[
        x509.UniformResourceIdentifier("https://example.com/")])[0]
    s["ip-not-ordered"] = csr_der(one + [("ip", "192.0.2.2")], key=k)[0]
    s["no-san"] = csr_der([], key=k, cn="example.com")[0]
    s["many-sans"] = csr_der(
        [("dns", "h%d.example.com" % i) for i in range(120)], key=k)[0]
    s["duplicate-san"] = csr_der(one + one, key=k)[0]
    good = bytearray(s["ok-one"])
    good[-5] ^= 0x40
    s["bad-signature"] = bytes(good)
    s["trailing-byte"] = s["ok-one"] + b"\0"
    s["truncated"] = s["ok-one"][:-9]
    s["empty"] = b""
    return s


# --- external account binding (RFC 8555 7.3.4) ------------------------

EAB_KEY = b"fuzz-eab-key-0123456789abcdef012"      # as fuzz_eab.c


def eab(alg="HS256", kid="kid-1", url=URL + "new-account", jwk=None,
        extra=None, key=EAB_KEY):
    import hmac
    hdr = {"alg": alg, "kid": kid, "url": url}
    hdr.update(extra or {})
    hdr = {k: v for k, v in hdr.items() if v is not None}
    prot = b64(json.dumps(hdr))
    pay = b64(json.dumps(jwk or jwk_of(EC256)))
    h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
         "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
    mac = hmac.new(key, (prot + "." + pay).encode(), h).digest()
    return {"protected": prot, "payload": pay, "signature": b64(mac)}


def eab_seeds():
    s = {}
    for alg in ("HS256", "HS384", "HS512"):
        s["ok-" + alg.lower()] = eab(alg)
    s["kid-128"] = eab(kid="k" * 128)
    s["kid-129"] = eab(kid="k" * 129)
    s["kid-empty"] = eab(kid="")
    s["kid-number"] = eab(kid=1)
    s["alg-es256"] = eab(alg="ES256")
    s["alg-none"] = eab(alg="none")
    s["nonce"] = eab(extra={"nonce": NONCE})
    s["url-other"] = eab(url=URL + "new-order")
    s["url-missing"] = eab(url=None)
    s["other-jwk"] = eab(jwk=jwk_of(EC384))
    s["private-jwk"] = eab(jwk=dict(jwk_of(EC256), d="AAAA"))
    s["wrong-key"] = eab(key=b"another key")
    bad = eab()
    s["mac-short"] = dict(bad, signature=bad["signature"][:10])
    s["mac-padding"] = dict(bad, signature=bad["signature"] + "=")
    s["extra-member"] = dict(bad, header={})
    s["payload-number"] = dict(bad, payload=1)
    out = {k: json.dumps(v, separators=(",", ":")).encode()
           for k, v in s.items()}
    out["not-object"] = b'["protected"]'
    return out


# --- identifiers, base64url, problems --------------------------------

def ident_seeds():
    v = ["example.com", "*.example.com", "Www.Example.COM", "xn--bcher-kva.ch",
         "a.b", "localhost", "example.com.", ".example.com", "ex..ample.com",
         "-bad.example", "bad-.example", "*.*.example.com", "a*.example.com",
         "1.2.3.4", "example.123", "a" * 63 + ".com", "a" * 64 + ".com",
         ".".join(["a" * 49] * 5), "ex ample.com", "ex_ample.com",
         "b\u00fccher.ch", "example\uff0ecom", "exa\u200bmple.com",
         "\u0435xample.com", "exa\0mple.com", "*.", "*", "",
         "192.0.2.1", "255.255.255.255", "0.0.0.0", "01.2.3.4",
         "1.2.3", "::1", "2001:DB8:0:0:0:0:0:1", "::ffff:192.0.2.1",
         "fe80::1%eth0", "2001:db8::/32", "1:2:3:4:5:6:7:8",
         "1:2:3:4:5:6:7:8:9", "[::1]"]
    return {"%02d" % i: x.encode() for i, x in enumerate(v)}


def b64u_seeds():
    v = [b"", b"QQ", b"QUI", b"QUJD", b"QUJDRA", b"_-_-", b"QR", b"QUJ",
         b"Q", b"QQ==", b"Q+/=", b"AAAAAGVT8QABI0VniavN7wOKbcFHsHG7o00wgzlprbQ",
         NONCE.encode()[:-1] + b"A", b"\0\0\0\0", b"Zm9v YmFy"]
    return {"%02d" % i: x for i, x in enumerate(v)}


def problem_seeds():
    """4 octets type, 4 octets status (little-endian), then the detail."""
    v = [(15, 0, b"JWS signature is invalid"),
         (7, 0, b"JWS algorithm \"HS256\" is not supported"),
         (19, 503, b"try again later"),
         (3, 0, "caf\u00e9 \u2603".encode()),
         (1000, 0, b"\xff\xfe\x00\x01 control \x1b[31m"),
         (-1, -1, b"\"quoted\\\" \\u0000"),
         (0, 413, b"x" * 600),
         (24, 2 ** 31 - 1, b"")]
    return {"%02d" % i: struct.pack("<ii", t, st) + d
            for i, (t, st, d) in enumerate(v)}


def write(outdir, target, seeds):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%-14s %3d seeds in %s" % (target, len(seeds), d))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    outdir = args[0] if args else os.path.join(HERE, "corpus")
    # the fixed public keys must match fuzz_common.h
    assert jwk_of(EC256)["x"] == "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    assert jwk_of(ED)["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    if "--keys" in sys.argv:
        for k in (RSA2048, EC384, EC521):
            print(json.dumps(jwk_of(k), separators=(",", ":")))
        return
    write(outdir, "fuzz_jws", jws_seeds())
    write(outdir, "fuzz_jwk", jwk_seeds())
    write(outdir, "fuzz_csr", csr_seeds())
    write(outdir, "fuzz_eab", eab_seeds())
    write(outdir, "fuzz_ident", ident_seeds())
    write(outdir, "fuzz_b64u", b64u_seeds())
    write(outdir, "fuzz_problem", problem_seeds())


if __name__ == "__main__":
    main()
