/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdlib.h>
#include <string.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include "acme_base64url.h"
#include "acme_jws.h"


const char  *acme_jws_algorithms[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", NULL
};


typedef struct {
    const char  *alg;
    int          key_type;      /* EVP_PKEY_RSA, EVP_PKEY_EC, ED25519 */
    const char  *md;            /* NULL for EdDSA */
    int          pss;
    const char  *group;         /* EC group name */
    size_t       coord;         /* EC coordinate size, octets */
} acme_jws_alg_t;


static const acme_jws_alg_t  acme_jws_algs[] = {
    { "RS256", EVP_PKEY_RSA, "SHA256", 0, NULL, 0 },
    { "RS384", EVP_PKEY_RSA, "SHA384", 0, NULL, 0 },
    { "RS512", EVP_PKEY_RSA, "SHA512", 0, NULL, 0 },
    { "PS256", EVP_PKEY_RSA, "SHA256", 1, NULL, 0 },
    { "PS384", EVP_PKEY_RSA, "SHA384", 1, NULL, 0 },
    { "PS512", EVP_PKEY_RSA, "SHA512", 1, NULL, 0 },
    { "ES256", EVP_PKEY_EC, "SHA256", 0, "prime256v1", 32 },
    { "ES384", EVP_PKEY_EC, "SHA384", 0, "secp384r1", 48 },
    { "ES512", EVP_PKEY_EC, "SHA512", 0, "secp521r1", 66 },
    { "EdDSA", EVP_PKEY_ED25519, NULL, 0, NULL, 0 },
    { NULL, 0, NULL, 0, NULL, 0 }
};


static const acme_jws_alg_t *
acme_jws_alg_find(const char *alg)
{
    const acme_jws_alg_t  *a;

    for (a = acme_jws_algs; a->alg; a++) {
        if (strcmp(a->alg, alg) == 0) {
            return a;
        }
    }

    return NULL;
}


static int
acme_jws_b64u_member(json_t *root, const char *name, unsigned char **out,
    size_t *out_len, const char **enc, size_t *enc_len, acme_problem_t *p)
{
    json_t  *v;

    v = json_object_get(root, name);
    if (!json_is_string(v)) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "JWS member \"%s\" is missing or not a "
                                "string", name);
    }

    *enc = json_string_value(v);
    *enc_len = json_string_length(v);

    *out = acme_b64u_decode_alloc(*enc, *enc_len, out_len);
    if (*out == NULL) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "JWS member \"%s\" is not base64url without "
                                "padding (RFC 8555 6.1)", name);
    }

    return ACME_OK;
}


int
acme_jws_parse(acme_jws_t *jws, const char *body, size_t len,
    acme_problem_t *p)
{
    int            rc;
    size_t         plen, prot_len, pay_len, sig_len_enc;
    json_t        *root, *jwk, *kid, *v;
    const char    *key, *prot_enc, *pay_enc, *sig_enc;
    json_error_t   err;
    unsigned char *prot;

    memset(jws, 0, sizeof(*jws));

    rc = ACME_ERROR;
    prot = NULL;

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "request body is not valid JSON: %s",
                                err.text);
    }

    if (!json_is_object(root)) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "request body must be a JWS object");
        goto failed;
    }

    /* RFC 8555 6.2: flattened serialization, no unprotected header */
    json_object_foreach(root, key, v) {
        if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0
            && strcmp(key, "signature") != 0)
        {
            acme_problem_set(p, ACME_PROB_MALFORMED,
                             "JWS member \"%.32s\" is not allowed: use the "
                             "flattened JSON serialization with a protected "
                             "header only (RFC 8555 6.2)", key);
            goto failed;
        }
    }

    if (acme_jws_b64u_member(root, "protected", &prot, &plen, &prot_enc,
                             &prot_len, p) != ACME_OK
        || acme_jws_b64u_member(root, "payload", &jws->payload,
                                &jws->payload_len, &pay_enc, &pay_len, p)
           != ACME_OK
        || acme_jws_b64u_member(root, "signature", &jws->sig, &jws->sig_len,
                                &sig_enc, &sig_len_enc, p) != ACME_OK)
    {
        goto failed;
    }

    jws->protected_hdr = json_loadb((char *) prot, plen,
                                    JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(jws->protected_hdr)) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "JWS protected header is not a JSON object");
        goto failed;
    }

    v = json_object_get(jws->protected_hdr, "alg");
    jws->alg = json_string_value(v);
    if (jws->alg == NULL) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "JWS protected header has no string \"alg\"");
        goto failed;
    }

    /* RFC 8555 6.2: "none" and MAC algorithms MUST NOT be accepted */
    if (acme_jws_alg_find(jws->alg) == NULL) {
        acme_problem_set(p, ACME_PROB_BAD_SIGNATURE_ALGORITHM,
                         "JWS algorithm \"%.16s\" is not supported",
                         jws->alg);
        goto failed;
    }

    /* RFC 7515 4.1.11 / RFC 7797: no extension is understood here, so a
     * "crit" header (and the unencoded payload option "b64" it would name)
     * cannot be honoured */
    if (json_object_get(jws->protected_hdr, "crit") != NULL
        || json_object_get(jws->protected_hdr, "b64") != NULL)
    {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "JWS header parameters \"crit\" and \"b64\" are "
                         "not supported");
        goto failed;
    }

    jwk = json_object_get(jws->protected_hdr, "jwk");
    kid = json_object_get(jws->protected_hdr, "kid");

    /* RFC 8555 6.2: "jwk" and "kid" are mutually exclusive */
    if ((jwk == NULL) == (kid == NULL)) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "JWS protected header must have exactly one of "
                         "\"jwk\" and \"kid\" (RFC 8555 6.2)");
        goto failed;
    }

    if (jwk && !json_is_object(jwk)) {
        acme_problem_set(p, ACME_PROB_MALFORMED, "\"jwk\" is not an object");
        goto failed;
    }

    if (kid && !json_is_string(kid)) {
        acme_problem_set(p, ACME_PROB_MALFORMED, "\"kid\" is not a string");
        goto failed;
    }

    jws->jwk = jwk;
    jws->kid = json_string_value(kid);

    v = json_object_get(jws->protected_hdr, "nonce");
    /* RFC 8555 6.5.2: a nonce that is not base64url is malformed */
    if (v && !json_is_string(v)) {
        acme_problem_set(p, ACME_PROB_MALFORMED, "\"nonce\" is not a string");
        goto failed;
    }

    jws->nonce = json_string_value(v);

    v = json_object_get(jws->protected_hdr, "url");
    if (v && !json_is_string(v)) {
        acme_problem_set(p, ACME_PROB_MALFORMED, "\"url\" is not a string");
        goto failed;
    }

    jws->url = json_string_value(v);

    jws->signing_input = acme_jws_signing_input(prot_enc, prot_len, pay_enc,
                                                pay_len,
                                                &jws->signing_input_len);
    if (jws->signing_input == NULL) {
        acme_problem_set(p, ACME_PROB_SERVER_INTERNAL, "out of memory");
        goto failed;
    }

    rc = ACME_OK;

failed:

    free(prot);
    json_decref(root);

    return rc;
}


/* RFC 7518 3.4: R || S to a DER ECDSA-Sig-Value */
static unsigned char *
acme_jws_ecdsa_der(const unsigned char *sig, size_t coord, size_t *der_len)
{
    int            n;
    BIGNUM        *r, *s;
    ECDSA_SIG     *es;
    unsigned char *der, *q;

    der = NULL;
    r = BN_bin2bn(sig, (int) coord, NULL);
    s = BN_bin2bn(sig + coord, (int) coord, NULL);
    es = ECDSA_SIG_new();

    if (r == NULL || s == NULL || es == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }

    n = i2d_ECDSA_SIG(es, NULL);
    if (n > 0 && (der = malloc(n)) != NULL) {
        q = der;
        *der_len = (size_t) i2d_ECDSA_SIG(es, &q);
    }

    ECDSA_SIG_free(es);

    return der;
}


int
acme_jws_verify(const acme_jws_t *jws, EVP_PKEY *key, acme_problem_t *p)
{
    int                    ok, id;
    char                   group[32];
    size_t                 der_len, sig_len;
    EVP_MD_CTX            *md;
    EVP_PKEY_CTX          *pctx;
    unsigned char         *der;
    const unsigned char   *sig;
    const acme_jws_alg_t  *a;

    a = acme_jws_alg_find(jws->alg);
    if (a == NULL) {
        return acme_problem_set(p, ACME_PROB_BAD_SIGNATURE_ALGORITHM,
                                "JWS algorithm \"%.16s\" is not supported",
                                jws->alg);
    }

    id = EVP_PKEY_get_base_id(key);

    if (id != a->key_type) {
        return acme_problem_set(p, ACME_PROB_BAD_SIGNATURE_ALGORITHM,
                                "JWS algorithm \"%s\" does not match the "
                                "key type", a->alg);
    }

    if (a->group) {
        if (!EVP_PKEY_get_utf8_string_param(key, "group", group,
                                            sizeof(group), NULL)
            || strcmp(group, a->group) != 0)
        {
            return acme_problem_set(p, ACME_PROB_BAD_SIGNATURE_ALGORITHM,
                                    "JWS algorithm \"%s\" does not match "
                                    "the key's curve", a->alg);
        }
    }

    der = NULL;
    sig = jws->sig;
    sig_len = jws->sig_len;

    if (a->key_type == EVP_PKEY_EC) {
        if (jws->sig_len != 2 * a->coord) {
            return acme_problem_set(p, ACME_PROB_MALFORMED,
                                    "JWS signature has the wrong length "
                                    "for %s", a->alg);
        }

        der = acme_jws_ecdsa_der(jws->sig, a->coord, &der_len);
        if (der == NULL) {
            return acme_problem_set(p, ACME_PROB_SERVER_INTERNAL,
                                    "cannot convert the ECDSA signature");
        }

        sig = der;
        sig_len = der_len;
    }

    ok = 0;
    md = EVP_MD_CTX_new();
    pctx = NULL;

    if (md
        && EVP_DigestVerifyInit_ex(md, &pctx, a->md, NULL, NULL, key, NULL)
           == 1
        && (!a->pss
            || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
                /* RFC 7518 3.5 wants a salt of the hash's size, but
                 * josepy (certbot) signs with the maximum: accept any */
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                    RSA_PSS_SALTLEN_AUTO)
                   > 0)))
    {
        ok = EVP_DigestVerify(md, sig, sig_len,
                              (const unsigned char *) jws->signing_input,
                              jws->signing_input_len) == 1;
    }

    EVP_MD_CTX_free(md);
    free(der);

    if (!ok) {
        ERR_clear_error();
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "JWS signature is invalid");
    }

    return ACME_OK;
}


char *
acme_jws_signing_input(const char *prot, size_t prot_len, const char *pay,
    size_t pay_len, size_t *len)
{
    char  *in;

    in = malloc(prot_len + 1 + pay_len + 1);
    if (in == NULL) {
        return NULL;
    }

    memcpy(in, prot, prot_len);
    in[prot_len] = '.';
    memcpy(in + prot_len + 1, pay, pay_len);
    in[prot_len + 1 + pay_len] = '\0';

    *len = prot_len + 1 + pay_len;

    return in;
}


void
acme_jws_clear(acme_jws_t *jws)
{
    json_decref(jws->protected_hdr);
    free(jws->payload);
    free(jws->sig);
    free(jws->signing_input);
    memset(jws, 0, sizeof(*jws));
}
