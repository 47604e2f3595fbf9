/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of JWK import, canonical form and thumbprint
 * (src/acme/acme_jwk.c; RFC 7517, RFC 7518 6, RFC 7638, RFC 8037).
 * Vectors are read from t/unit/vectors/jwk_*.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include "acme/acme_base64url.h"
#include "acme/acme_jwk.h"

#include "test_vectors.h"


/* RFC 7515 A.3.1, the public part */
#define TEST_EC_X  "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define TEST_EC_Y  "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define TEST_EC_D  "jpsQnnGQmL-YBIffH1136cLyG5NK7a2Kzxrei8VeExk"

/* RFC 8037 A.2 */
#define TEST_ED_X  "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"


static json_t *
test_json(const char *text)
{
    json_t        *o;
    json_error_t   err;

    o = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (o == NULL) {
        fail_msg("bad test JSON: %s: %s", err.text, text);
    }

    return o;
}


/* imports text, which must succeed; canonical may be NULL */
static EVP_PKEY *
test_import(const char *text, char *canonical)
{
    json_t          *jwk;
    EVP_PKEY        *pkey;
    acme_problem_t   p;

    jwk = test_json(text);
    memset(&p, 0, sizeof(p));
    pkey = (EVP_PKEY *) 1;

    if (acme_jwk_import(jwk, &pkey, canonical, &p) != ACME_OK) {
        fail_msg("JWK refused: %s: %s", p.detail, text);
    }

    json_decref(jwk);
    assert_non_null(pkey);

    return pkey;
}


/* imports text, which must fail with type */
static void
test_refused(const char *text, acme_prob_e type)
{
    int              rc;
    json_t          *jwk;
    EVP_PKEY        *pkey;
    acme_problem_t   p;

    jwk = test_json(text);
    memset(&p, 0, sizeof(p));
    pkey = (EVP_PKEY *) 1;

    rc = acme_jwk_import(jwk, &pkey, NULL, &p);
    json_decref(jwk);

    if (rc != ACME_ERROR) {
        EVP_PKEY_free(pkey);
        fail_msg("JWK accepted: %s", text);
    }

    assert_null(pkey);

    if (p.type != type) {
        fail_msg("JWK refused as %s, not %s: %s: %s", acme_problem_urn(p.type),
                 acme_problem_urn(type), p.detail, text);
    }

    assert_true(p.detail[0] != '\0');
    assert_int_equal(ERR_peek_error(), 0);
}


/* an RSA JWK with a synthetic modulus of nlen octets: top octet top,
 * odd (EVP_PKEY_fromdata checks no more for a public key) */
static char *
test_rsa_jwk(size_t nlen, unsigned char top, const char *e)
{
    char           *n, *s;
    size_t          i, size;
    unsigned char  *buf;

    buf = malloc(nlen);
    assert_non_null(buf);

    for (i = 0; i < nlen; i++) {
        buf[i] = (unsigned char) (i * 37 + 11);
    }

    buf[0] = top;
    buf[nlen - 1] |= 1;

    n = acme_b64u_encode_alloc(buf, nlen);
    assert_non_null(n);
    free(buf);

    size = strlen(n) + 64;
    s = malloc(size);
    assert_non_null(s);
    snprintf(s, size, "{\"kty\":\"RSA\",\"e\":\"%s\",\"n\":\"%s\"}", e, n);
    free(n);

    return s;
}


/* the public JWK of an EC key, as the client would send it */
static char *
test_ec_jwk(EVP_PKEY *pkey, const char *crv, size_t size)
{
    char           *s, *x, *y;
    BIGNUM         *bx, *by;
    unsigned char   buf[66];

    bx = NULL;
    by = NULL;
    assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx));
    assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by));

    assert_int_equal(BN_bn2binpad(bx, buf, size), size);
    x = acme_b64u_encode_alloc(buf, size);
    assert_int_equal(BN_bn2binpad(by, buf, size), size);
    y = acme_b64u_encode_alloc(buf, size);

    s = malloc(512);
    assert_non_null(s);
    snprintf(s, 512,
             "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
             crv, x, y);

    free(x);
    free(y);
    BN_free(bx);
    BN_free(by);

    return s;
}


static void
test_rfc7638(void **state)
{
    char      *input, *want_canonical, *want_thumb;
    char       canonical[ACME_JWK_CANONICAL_MAX];
    char       thumb[ACME_THUMBPRINT_LEN + 1];
    EVP_PKEY  *pkey;

    /* RFC 7638 3.1: "alg" and "kid" are not part of the thumbprint */
    input = test_vector("jwk_rfc7638_3_1", "input");
    want_canonical = test_vector("jwk_rfc7638_3_1", "canonical");
    want_thumb = test_vector("jwk_rfc7638_3_1", "expect");

    pkey = test_import(input, canonical);
    assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_RSA);
    assert_int_equal(EVP_PKEY_get_bits(pkey), 2048);
    assert_string_equal(canonical, want_canonical);

    memset(thumb, '#', sizeof(thumb));
    assert_int_equal(acme_jwk_thumbprint(canonical, strlen(canonical),
                                         thumb),
                     ACME_OK);
    assert_string_equal(thumb, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_string_equal(thumb, want_thumb);
    assert_int_equal(strlen(thumb), ACME_THUMBPRINT_LEN);

    EVP_PKEY_free(pkey);
    free(input);
    free(want_canonical);
    free(want_thumb);
}


static void
test_member_order(void **state)
{
    char       a[ACME_JWK_CANONICAL_MAX], b[ACME_JWK_CANONICAL_MAX];
    EVP_PKEY  *k1, *k2;

    /* member order and extra members do not change the canonical form */
    k1 = test_import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                     "\",\"y\":\"" TEST_EC_Y "\"}", a);
    k2 = test_import("{\"y\":\"" TEST_EC_Y "\",\"use\":\"sig\",\"x\":\""
                     TEST_EC_X "\",\"kid\":\"k\",\"crv\":\"P-256\","
                     "\"kty\":\"EC\"}", b);

    assert_string_equal(a, b);
    assert_int_equal(acme_pkey_equal_public(k1, k2), 1);

    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}


static void
test_ec_p256(void **state)
{
    char       canonical[ACME_JWK_CANONICAL_MAX], group[32];
    EVP_PKEY  *pkey;

    pkey = test_import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                       "\",\"y\":\"" TEST_EC_Y "\"}", canonical);

    assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_EC);
    assert_true(EVP_PKEY_get_utf8_string_param(pkey,
                                               OSSL_PKEY_PARAM_GROUP_NAME,
                                               group, sizeof(group), NULL));
    assert_string_equal(group, "prime256v1");

    /* RFC 7638 3.2: crv, kty, x, y */
    assert_string_equal(canonical,
                        "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""
                        TEST_EC_X "\",\"y\":\"" TEST_EC_Y "\"}");

    EVP_PKEY_free(pkey);

    /* canonical may be NULL */
    pkey = test_import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                       "\",\"y\":\"" TEST_EC_Y "\"}", NULL);
    EVP_PKEY_free(pkey);
}


static void
test_ec_generated(void **state)
{
    char         *jwk, canonical[ACME_JWK_CANONICAL_MAX];
    size_t        i;
    EVP_PKEY     *key, *pkey;
    static const struct {
        const char  *curve;
        const char  *crv;
        size_t       size;
    }             curves[] = {
        { "P-256", "P-256", 32 },
        { "P-384", "P-384", 48 },
        { "P-521", "P-521", 66 },
    };

    for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i].curve);
        assert_non_null(key);

        jwk = test_ec_jwk(key, curves[i].crv, curves[i].size);
        pkey = test_import(jwk, canonical);

        assert_int_equal(acme_pkey_equal_public(key, pkey), 1);
        assert_non_null(strstr(canonical, curves[i].crv));

        EVP_PKEY_free(pkey);
        EVP_PKEY_free(key);
        free(jwk);
    }
}


static void
test_ed25519(void **state)
{
    char            *input, *want_canonical, *want_thumb;
    char             canonical[ACME_JWK_CANONICAL_MAX];
    char             thumb[ACME_THUMBPRINT_LEN + 1];
    size_t           len;
    EVP_PKEY        *pkey;
    unsigned char    raw[32], want[32];

    /* RFC 8037 A.2 key, A.3 thumbprint */
    input = test_vector("jwk_rfc8037_a3", "input");
    want_canonical = test_vector("jwk_rfc8037_a3", "canonical");
    want_thumb = test_vector("jwk_rfc8037_a3", "expect");

    pkey = test_import(input, canonical);
    assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_ED25519);

    len = sizeof(raw);
    assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &len), 1);
    assert_int_equal(len, 32);
    assert_int_equal(acme_b64u_decode(want, &len, TEST_ED_X,
                                      strlen(TEST_ED_X)),
                     ACME_OK);
    assert_memory_equal(raw, want, 32);

    assert_string_equal(canonical, want_canonical);
    assert_int_equal(acme_jwk_thumbprint(canonical, strlen(canonical),
                                         thumb),
                     ACME_OK);
    assert_string_equal(thumb, want_thumb);

    EVP_PKEY_free(pkey);
    free(input);
    free(want_canonical);
    free(want_thumb);
}


static void
test_rsa_sizes(void **state)
{
    char      *jwk;
    EVP_PKEY  *pkey;

    jwk = test_rsa_jwk(256, 0xc1, "AQAB");
    pkey = test_import(jwk, NULL);
    assert_int_equal(EVP_PKEY_get_bits(pkey), 2048);
    EVP_PKEY_free(pkey);
    free(jwk);

    jwk = test_rsa_jwk(512, 0xc1, "AQAB");
    pkey = test_import(jwk, NULL);
    assert_int_equal(EVP_PKEY_get_bits(pkey), 4096);
    EVP_PKEY_free(pkey);
    free(jwk);

    /* e = 3 is odd and > 1 */
    jwk = test_rsa_jwk(256, 0xc1, "Aw");
    pkey = test_import(jwk, NULL);
    EVP_PKEY_free(pkey);
    free(jwk);

    /* RSA 1024 */
    jwk = test_rsa_jwk(128, 0xc1, "AQAB");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);

    /* beyond 8192 bits */
    jwk = test_rsa_jwk(1032, 0xc1, "AQAB");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);
}


static void
test_rsa_exponent(void **state)
{
    char  *jwk;

    /* RFC 8555 6.7 badPublicKey: e = 65536 is even */
    jwk = test_rsa_jwk(256, 0xc1, "AQAA");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);

    jwk = test_rsa_jwk(256, 0xc1, "Ag");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);

    /* e = 1 */
    jwk = test_rsa_jwk(256, 0xc1, "AQ");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);

    /* RFC 7518 6.3.1.2: no leading zero octets */
    jwk = test_rsa_jwk(256, 0xc1, "AAEAAQ");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);

    jwk = test_rsa_jwk(257, 0x00, "AQAB");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);
}


static void
test_private_members(void **state)
{
    /* RFC 7515 A.3.1, the whole key */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                 "\",\"y\":\"" TEST_EC_Y "\",\"d\":\"" TEST_EC_D "\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);

    test_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" TEST_ED_X
                 "\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);

    test_refused("{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"AQAB\","
                 "\"p\":\"AQAB\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* a symmetric key */
    test_refused("{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMk"
                 "oqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);
}


static void
test_ec_rejections(void **state)
{
    /* not on the curve: the last character of y changed */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                 "\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);

    /* x is the field prime p of P-256 (not a field element) */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\""
                 "_____wAAAAEAAAAAAAAAAAAAAAD_______________8"
                 "\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* x and y swapped */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_Y
                 "\",\"y\":\"" TEST_EC_X "\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* RFC 7518 6.2.1.2: 31 octets (a leading zero octet stripped) */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\""
                 "zc4ndg_YxF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA\",\"y\":\""
                 TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* 33 octets */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA" TEST_EC_X
                 "A\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* a P-256 point declared as P-384 */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" TEST_EC_X
                 "\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* unknown or missing curve */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"" TEST_EC_X
                 "\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" TEST_EC_X
                 "\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"EC\",\"x\":\"" TEST_EC_X "\",\"y\":\""
                 TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"EC\",\"crv\":256,\"x\":\"" TEST_EC_X
                 "\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* missing y */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                 "\"}", ACME_PROB_BAD_PUBLIC_KEY);
}


static void
test_not_base64url(void **state)
{
    /* padding, the standard alphabet, a non-canonical last character */
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                 "=\",\"y\":\"" TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                 "\",\"y\":\"x/FEzRu9m36HLN/tue659LNpXW6pCyStikYjKIWI5a0\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                 "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"RSA\",\"e\":\"AQ AB\",\"n\":\"AQAB\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);

    /* not a string, or empty */
    test_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":32}",
                 ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);
}


static void
test_kty_rejections(void **state)
{
    json_t          *jwk;
    EVP_PKEY        *pkey;
    acme_problem_t   p;

    test_refused("{\"kty\":\"DSA\",\"x\":\"" TEST_EC_X "\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"rsa\",\"e\":\"AQAB\",\"n\":\"AQAB\"}",
                 ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"crv\":\"P-256\",\"x\":\"" TEST_EC_X "\",\"y\":\""
                 TEST_EC_Y "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":null}", ACME_PROB_BAD_PUBLIC_KEY);

    /* RFC 8037: only Ed25519 of the OKP curves */
    test_refused("{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" TEST_ED_X
                 "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" TEST_ED_X
                 "\"}", ACME_PROB_BAD_PUBLIC_KEY);
    test_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" TEST_EC_X
                 "AA\"}", ACME_PROB_BAD_PUBLIC_KEY);

    /* "jwk" that is not an object is malformed, not a bad key */
    test_refused("[1]", ACME_PROB_MALFORMED);
    test_refused("\"jwk\"", ACME_PROB_MALFORMED);

    pkey = (EVP_PKEY *) 1;
    assert_int_equal(acme_jwk_import(NULL, &pkey, NULL, &p), ACME_ERROR);
    assert_null(pkey);
    assert_int_equal(p.type, ACME_PROB_MALFORMED);

    jwk = json_object();
    assert_int_equal(acme_jwk_import(jwk, &pkey, NULL, &p), ACME_ERROR);
    assert_int_equal(p.type, ACME_PROB_BAD_PUBLIC_KEY);
    json_decref(jwk);
}


static void
test_key_authorization(void **state)
{
    char         out[128];
    size_t       need;
    const char  *token, *thumb;

    /* RFC 8555 8.1 */
    token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    thumb = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

    assert_int_equal(acme_key_authorization(token, thumb, out, sizeof(out)),
                     ACME_OK);
    assert_string_equal(out, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
                             "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");

    need = strlen(token) + 1 + strlen(thumb) + 1;
    assert_int_equal(need, ACME_TOKEN_LEN + 1 + ACME_THUMBPRINT_LEN + 1);

    memset(out, '#', sizeof(out));
    assert_int_equal(acme_key_authorization(token, thumb, out, need),
                     ACME_OK);
    assert_int_equal(strlen(out), need - 1);

    /* one octet short: an error, and nothing written past size */
    memset(out, '#', sizeof(out));
    assert_int_equal(acme_key_authorization(token, thumb, out, need - 1),
                     ACME_ERROR);
    assert_int_equal(out[need - 1], '#');

    memset(out, '#', sizeof(out));
    assert_int_equal(acme_key_authorization(token, thumb, out, 1),
                     ACME_ERROR);
    assert_int_equal(out[1], '#');
}


static void
test_equal_public(void **state)
{
    char      *jwk;
    EVP_PKEY  *a, *b, *c, *d;

    a = test_import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" TEST_EC_X
                    "\",\"y\":\"" TEST_EC_Y "\"}", NULL);
    b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(b);

    jwk = test_ec_jwk(b, "P-256", 32);
    c = test_import(jwk, NULL);
    free(jwk);

    d = test_import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\""
                    TEST_ED_X "\"}", NULL);

    /* a private key and its public part are the same account key */
    assert_int_equal(acme_pkey_equal_public(b, c), 1);
    assert_int_equal(acme_pkey_equal_public(a, a), 1);
    assert_int_equal(acme_pkey_equal_public(a, b), 0);
    assert_int_equal(acme_pkey_equal_public(a, d), 0);

    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(c);
    EVP_PKEY_free(d);
}


/*
 * Regression (src/acme/acme_jwk.c:18, ACME_JWK_MEMBER_MAX 1100): the header
 * promises RSA keys of 2048..8192 bits, but the base64url "n" of an
 * 8192-bit modulus is 1366 characters and acme_jwk_member() refuses any
 * member longer than 1100 (about 6600 bits).  Input: an 8192-bit "n"
 * (1024 octets).  Expected ACME_OK; actual badPublicKey "JWK member "n"
 * is not valid base64url of a sensible size".
 */
static void
test_rsa_8192(void **state)
{
    char      *jwk, canonical[ACME_JWK_CANONICAL_MAX];
    EVP_PKEY  *pkey;

    jwk = test_rsa_jwk(1024, 0xc1, "AQAB");
    pkey = test_import(jwk, canonical);
    assert_int_equal(EVP_PKEY_get_bits(pkey), 8192);
    /* the canonical form still fits */
    assert_int_equal(strlen(canonical), strlen(jwk));
    EVP_PKEY_free(pkey);
    free(jwk);
}


/*
 * Regression (src/acme/acme_jwk.c:107, "bits = (int) nlen * 8"): the size check
 * counts octets, not bits, so a modulus whose top octet is small passes
 * as 2048 bits.  Input: a 256-octet "n" starting with 0x01 (a 2041-bit
 * modulus).  Expected badPublicKey (2048..8192 bits); actual ACME_OK.
 *
 */
static void
test_rsa_bits_not_octets(void **state)
{
    char  *jwk;

    jwk = test_rsa_jwk(256, 0x01, "AQAB");
    test_refused(jwk, ACME_PROB_BAD_PUBLIC_KEY);
    free(jwk);
}


int
main(int argc, char **argv)
{
    const struct CMUnitTest   tests[] = {
        cmocka_unit_test(test_rfc7638),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_ec_p256),
        cmocka_unit_test(test_ec_generated),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_rsa_sizes),
        cmocka_unit_test(test_rsa_exponent),
        cmocka_unit_test(test_private_members),
        cmocka_unit_test(test_ec_rejections),
        cmocka_unit_test(test_not_base64url),
        cmocka_unit_test(test_kty_rejections),
        cmocka_unit_test(test_key_authorization),
        cmocka_unit_test(test_equal_public),
        cmocka_unit_test(test_rsa_8192),
        cmocka_unit_test(test_rsa_bits_not_octets),
    };

    test_vectors_find(argc, argv);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
