/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: ES256 account keys as JWK (RFC 7517, RFC 7518 6.2), their
 * thumbprint (RFC 7638), flattened JWS (RFC 7515 7.2.2, RFC 8555 6.2),
 * P-256 CSRs (RFC 2986) and the check of a downloaded chain.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "acme/acme_base64url.h"
#include "acmeb.h"


static char *acmeb_b64u(const unsigned char *src, size_t len);


static char *
acmeb_b64u(const unsigned char *src, size_t len)
{
    return acme_b64u_encode_alloc(src, len);
}


EVP_PKEY *
acmeb_key_new(void)
{
    return EVP_EC_gen("P-256");
}


/*
 * The public JWK as compact JSON in RFC 7638 3.2 member order, so the
 * same string is both the "jwk" header and the thumbprint input.
 */
int
acmeb_key_jwk(EVP_PKEY *key, char *jwk, size_t size, char *thumb)
{
    int            n;
    char           x[64], y[64];
    size_t         len;
    unsigned int   mdlen;
    unsigned char  pub[65], md[EVP_MAX_MD_SIZE];

    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                        sizeof(pub), &len) != 1
        || len != 65 || pub[0] != 0x04)
    {
        return -1;
    }

    x[acme_b64u_encode(x, pub + 1, 32)] = '\0';
    y[acme_b64u_encode(y, pub + 33, 32)] = '\0';

    n = snprintf(jwk, size,
                 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 x, y);
    if (n < 0 || (size_t) n >= size) {
        return -1;
    }

    if (thumb) {
        if (EVP_Digest(jwk, n, md, &mdlen, EVP_sha256(), NULL) != 1) {
            return -1;
        }
        thumb[acme_b64u_encode(thumb, md, mdlen)] = '\0';
    }

    return 0;
}


/*
 * A flattened JWS JSON body (new string, caller frees).  payload NULL is
 * POST-as-GET (RFC 8555 6.3: empty payload); exactly one of jwk and kid.
 */
char *
acmeb_jws(EVP_PKEY *key, const char *jwk, const char *kid, const char *nonce,
    const char *url, const char *payload)
{
    int             n;
    char           *prot, *prot64, *pay64, *sig64, *input, *out;
    size_t          hlen, siglen, len;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *md;
    const BIGNUM   *r, *s;
    unsigned char   der[80], rs[64];
    const unsigned char  *p;

    prot = NULL;
    prot64 = NULL;
    pay64 = NULL;
    sig64 = NULL;
    input = NULL;
    out = NULL;
    md = NULL;

    hlen = strlen(url) + strlen(nonce) + (jwk ? strlen(jwk) : strlen(kid))
           + 64;
    prot = malloc(hlen);
    if (prot == NULL) {
        goto failed;
    }

    if (jwk) {
        snprintf(prot, hlen,
                 "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"%s\","
                 "\"url\":\"%s\"}", jwk, nonce, url);
    } else {
        snprintf(prot, hlen,
                 "{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\","
                 "\"url\":\"%s\"}", kid, nonce, url);
    }

    prot64 = acmeb_b64u((unsigned char *) prot, strlen(prot));
    pay64 = payload ? acmeb_b64u((unsigned char *) payload, strlen(payload))
                    : strdup("");
    if (prot64 == NULL || pay64 == NULL) {
        goto failed;
    }

    len = strlen(prot64) + strlen(pay64) + 2;
    input = malloc(len);
    if (input == NULL) {
        goto failed;
    }
    n = snprintf(input, len, "%s.%s", prot64, pay64);

    md = EVP_MD_CTX_new();
    siglen = sizeof(der);
    if (md == NULL
        || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestSign(md, der, &siglen, (unsigned char *) input, n) != 1)
    {
        goto failed;
    }

    /* RFC 7518 3.4: R || S, each 32 bytes, not DER */
    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, siglen);
    if (es == NULL) {
        goto failed;
    }
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, rs, 32);
    BN_bn2binpad(s, rs + 32, 32);
    ECDSA_SIG_free(es);

    sig64 = acmeb_b64u(rs, 64);
    if (sig64 == NULL) {
        goto failed;
    }

    len = strlen(prot64) + strlen(pay64) + strlen(sig64) + 64;
    out = malloc(len);
    if (out) {
        snprintf(out, len,
                 "{\"protected\":\"%s\",\"payload\":\"%s\","
                 "\"signature\":\"%s\"}", prot64, pay64, sig64);
    }

failed:

    EVP_MD_CTX_free(md);
    free(prot);
    free(prot64);
    free(pay64);
    free(sig64);
    free(input);

    return out;
}


/* a CSR for name with a fresh P-256 key, DER in base64url (caller frees) */
char *
acmeb_csr_b64u(const char *name)
{
    int                  len;
    char                 san[300], *out;
    X509_REQ            *req;
    EVP_PKEY            *key;
    X509_NAME           *subj;
    X509_EXTENSION      *ext;
    unsigned char       *der;
    STACK_OF(X509_EXTENSION)  *exts;

    out = NULL;
    der = NULL;
    exts = NULL;

    key = acmeb_key_new();
    req = X509_REQ_new();
    if (key == NULL || req == NULL) {
        goto failed;
    }

    subj = X509_REQ_get_subject_name(req);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
                               (const unsigned char *) name, -1, -1, 0);

    snprintf(san, sizeof(san), "DNS:%s", name);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    exts = sk_X509_EXTENSION_new_null();
    if (ext == NULL || exts == NULL) {
        X509_EXTENSION_free(ext);
        goto failed;
    }
    sk_X509_EXTENSION_push(exts, ext);

    if (X509_REQ_add_extensions(req, exts) != 1
        || X509_REQ_set_pubkey(req, key) != 1
        || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
    {
        goto failed;
    }

    len = i2d_X509_REQ(req, &der);
    if (len <= 0) {
        goto failed;
    }

    out = acmeb_b64u(der, len);

failed:

    OPENSSL_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    EVP_PKEY_free(key);

    return out;
}


/*
 * RFC 8555 7.4.2: the certificate is PEM, end-entity first, each next
 * certificate certifies the one before it.  Checks that the leaf names
 * name and that every link is signed by the next one.
 */
int
acmeb_chain_check(const char *pem, size_t len, const char *name, char *err,
    size_t errsize)
{
    int        i, n, rc;
    BIO       *bio;
    X509      *c[8];
    EVP_PKEY  *pub;

    rc = -1;
    n = 0;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }

    while (n < 8 && (c[n] = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        n++;
    }
    BIO_free(bio);

    if (n == 0) {
        snprintf(err, errsize, "no certificate in the response");
        goto done;
    }

    if (X509_check_host(c[0], name, 0, 0, NULL) != 1) {
        snprintf(err, errsize, "leaf does not name %s", name);
        goto done;
    }

    for (i = 0; i + 1 < n; i++) {
        pub = X509_get0_pubkey(c[i + 1]);
        if (X509_check_issued(c[i + 1], c[i]) != X509_V_OK
            || pub == NULL || X509_verify(c[i], pub) != 1)
        {
            snprintf(err, errsize, "certificate %d is not issued by %d",
                     i, i + 1);
            goto done;
        }
    }

    rc = 0;

done:

    for (i = 0; i < n; i++) {
        X509_free(c[i]);
    }

    return rc;
}
