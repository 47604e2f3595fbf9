/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <stdio.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/bn.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include "acme_base64url.h"
#include "acme_jwk.h"


#define ACME_JWK_MEMBER_MAX  1400   /* base64url of an 8192-bit modulus */


static const char  *acme_jwk_private_members[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};


/* a base64url member of the JWK, decoded into buf (size bytes) */
static int
acme_jwk_member(const json_t *jwk, const char *name, unsigned char *buf,
    size_t size, size_t *len, const char **enc, acme_problem_t *p)
{
    size_t       n;
    const char  *s;
    json_t      *v;

    v = json_object_get(jwk, name);
    if (!json_is_string(v)) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "JWK member \"%s\" is missing or not a string",
                                name);
    }

    s = json_string_value(v);
    n = json_string_length(v);

    if (n == 0 || n > ACME_JWK_MEMBER_MAX
        || acme_b64u_decoded_max(n) > size
        || acme_b64u_decode(buf, len, s, n) != ACME_OK)
    {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "JWK member \"%s\" is not valid base64url "
                                "of a sensible size", name);
    }

    *enc = s;

    return ACME_OK;
}


static EVP_PKEY *
acme_jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return pkey;
}


static int
acme_jwk_rsa(const json_t *jwk, EVP_PKEY **pkey, char *canonical,
    acme_problem_t *p)
{
    int              rc, bits;
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    const char      *nenc, *eenc;
    OSSL_PARAM_BLD  *bld;
    unsigned char    nbuf[ACME_JWK_MEMBER_MAX], ebuf[16];

    if (acme_jwk_member(jwk, "n", nbuf, sizeof(nbuf), &nlen, &nenc, p)
        != ACME_OK
        || acme_jwk_member(jwk, "e", ebuf, sizeof(ebuf), &elen, &eenc, p)
           != ACME_OK)
    {
        return ACME_ERROR;
    }

    /* RFC 7518 6.3.1: unsigned big-endian, no leading zero octets */
    if (nbuf[0] == 0 || ebuf[0] == 0) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "RSA JWK \"n\" and \"e\" must not have "
                                "leading zero octets");
    }


    if (!(ebuf[elen - 1] & 1) || (elen == 1 && ebuf[0] < 3)) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "RSA public exponent must be odd and > 1");
    }

    rc = ACME_ERROR;
    n = BN_bin2bn(nbuf, (int) nlen, NULL);
    e = BN_bin2bn(ebuf, (int) elen, NULL);

    /* the modulus' bit length, not its octets: 0x01... of 256 octets has
     * 2041 bits */
    bits = n ? BN_num_bits(n) : 0;
    if (n && (bits < ACME_RSA_MIN_BITS || bits > ACME_RSA_MAX_BITS)) {
        BN_free(n);
        BN_free(e);
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "RSA keys must have %d to %d bits, not %d",
                                ACME_RSA_MIN_BITS, ACME_RSA_MAX_BITS, bits);
    }

    bld = OSSL_PARAM_BLD_new();

    if (n && e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        *pkey = acme_jwk_fromdata("RSA", bld);
        rc = (*pkey != NULL) ? ACME_OK : ACME_ERROR;
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    if (rc != ACME_OK) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "RSA JWK could not be imported");
    }

    if (canonical) {
        snprintf(canonical, ACME_JWK_CANONICAL_MAX,
                 "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", eenc, nenc);
    }

    return ACME_OK;
}


static int
acme_jwk_ec(const json_t *jwk, EVP_PKEY **pkey, char *canonical,
    acme_problem_t *p)
{
    int              rc;
    size_t           size, xlen, ylen;
    json_t          *crv;
    const char      *group, *name, *xenc, *yenc;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;
    unsigned char    pt[1 + 2 * 66], x[80], y[80];

    crv = json_object_get(jwk, "crv");
    name = json_string_value(crv);

    if (name == NULL) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "EC JWK has no \"crv\"");
    }

    if (strcmp(name, "P-256") == 0) {
        group = "prime256v1";
        size = 32;

    } else if (strcmp(name, "P-384") == 0) {
        group = "secp384r1";
        size = 48;

    } else if (strcmp(name, "P-521") == 0) {
        group = "secp521r1";
        size = 66;

    } else {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "EC curve \"%.32s\" is not supported", name);
    }

    if (acme_jwk_member(jwk, "x", x, sizeof(x), &xlen, &xenc, p) != ACME_OK
        || acme_jwk_member(jwk, "y", y, sizeof(y), &ylen, &yenc, p)
           != ACME_OK)
    {
        return ACME_ERROR;
    }

    /* RFC 7518 6.2.1.2: the full coordinate size, even with leading 0s */
    if (xlen != size || ylen != size) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "EC JWK coordinates must be %zu octets",
                                size);
    }

    pt[0] = 0x04;
    memcpy(pt + 1, x, size);
    memcpy(pt + 1 + size, y, size);

    rc = ACME_ERROR;
    bld = OSSL_PARAM_BLD_new();

    if (bld
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            pt, 1 + 2 * size))
    {
        *pkey = acme_jwk_fromdata("EC", bld);
        rc = (*pkey != NULL) ? ACME_OK : ACME_ERROR;
    }

    OSSL_PARAM_BLD_free(bld);

    if (rc == ACME_OK) {
        /*
         * The point must be on the curve (invalid-curve attacks): its
         * coordinates in the field, not the point at infinity, the curve
         * equation (SP 800-56A rev. 3 5.6.2.3.4, partial validation).
         * P-256, P-384 and P-521 have cofactor 1, so a point on the curve
         * is in the prime-order group and the full check's scalar
         * multiplication by the order (11 % of the workers' CPU in a
         * newAccount run) proves nothing more.
         */
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *pkey, NULL);
        if (ctx == NULL || EVP_PKEY_public_check_quick(ctx) != 1) {
            EVP_PKEY_free(*pkey);
            *pkey = NULL;
            rc = ACME_ERROR;
        }

        EVP_PKEY_CTX_free(ctx);
    }

    if (rc != ACME_OK) {
        ERR_clear_error();
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "EC JWK is not a valid point on %s", name);
    }

    if (canonical) {
        snprintf(canonical, ACME_JWK_CANONICAL_MAX,
                 "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 name, xenc, yenc);
    }

    return ACME_OK;
}


static int
acme_jwk_okp(const json_t *jwk, EVP_PKEY **pkey, char *canonical,
    acme_problem_t *p)
{
    size_t          xlen;
    const char     *name, *xenc;
    unsigned char   x[64];

    name = json_string_value(json_object_get(jwk, "crv"));

    /* RFC 8037 2; Ed448 is not among the algorithms we accept */
    if (name == NULL || strcmp(name, "Ed25519") != 0) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "OKP JWK curve must be \"Ed25519\"");
    }

    if (acme_jwk_member(jwk, "x", x, sizeof(x), &xlen, &xenc, p) != ACME_OK)
    {
        return ACME_ERROR;
    }

    if (xlen != 32) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "Ed25519 JWK \"x\" must be 32 octets");
    }

    *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
    if (*pkey == NULL) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "Ed25519 JWK could not be imported");
    }

    if (canonical) {
        snprintf(canonical, ACME_JWK_CANONICAL_MAX,
                 "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", xenc);
    }

    return ACME_OK;
}


int
acme_jwk_import(const json_t *jwk, EVP_PKEY **pkey, char *canonical,
    acme_problem_t *p)
{
    size_t       i;
    const char  *kty;

    *pkey = NULL;

    if (!json_is_object(jwk)) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "\"jwk\" must be a JSON object");
    }

    for (i = 0; acme_jwk_private_members[i]; i++) {
        if (json_object_get(jwk, acme_jwk_private_members[i]) != NULL) {
            return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                    "JWK contains private key material "
                                    "(\"%s\")", acme_jwk_private_members[i]);
        }
    }

    kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty == NULL) {
        return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                                "JWK has no \"kty\"");
    }

    if (strcmp(kty, "RSA") == 0) {
        return acme_jwk_rsa(jwk, pkey, canonical, p);
    }

    if (strcmp(kty, "EC") == 0) {
        return acme_jwk_ec(jwk, pkey, canonical, p);
    }

    if (strcmp(kty, "OKP") == 0) {
        return acme_jwk_okp(jwk, pkey, canonical, p);
    }

    return acme_problem_set(p, ACME_PROB_BAD_PUBLIC_KEY,
                            "JWK key type \"%.16s\" is not supported", kty);
}


int
acme_jwk_thumbprint(const char *canonical, size_t len, char *out)
{
    size_t         n;
    unsigned char  md[SHA256_DIGEST_LENGTH];

    if (SHA256((const unsigned char *) canonical, len, md) == NULL) {
        return ACME_ERROR;
    }

    n = acme_b64u_encode(out, md, sizeof(md));
    out[n] = '\0';

    return ACME_OK;
}


int
acme_key_authorization(const char *token, const char *thumbprint,
    char *out, size_t size)
{
    int  n;

    n = snprintf(out, size, "%s.%s", token, thumbprint);

    return (n < 0 || (size_t) n >= size) ? ACME_ERROR : ACME_OK;
}


int
acme_pkey_equal_public(EVP_PKEY *a, EVP_PKEY *b)
{
    int  eq;

    eq = EVP_PKEY_eq(a, b) == 1;

    /* keys of different types leave an error on the queue */
    ERR_clear_error();

    return eq;
}
