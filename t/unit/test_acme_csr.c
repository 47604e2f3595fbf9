/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of the finalize CSR checks (src/acme/acme_csr.c; RFC 8555
 * 7.4, 11.1, RFC 2986).  CSRs are built here with OpenSSL from keys
 * generated at start-up.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "acme/acme_csr.h"


#define TEST_N(names)  names, sizeof(names) / sizeof(names[0])


typedef struct {
    EVP_PKEY  *p256;
    EVP_PKEY  *p256_explicit;  /* SPKI with specifiedCurve parameters */
    EVP_PKEY  *account;        /* another P-256 key */
    EVP_PKEY  *p384;
    EVP_PKEY  *p521;
    EVP_PKEY  *rsa1024;
    EVP_PKEY  *ed25519;
} test_keys_t;


static test_keys_t  test_keys;

static const char  *test_names[] = { "example.com", "www.example.com" };


static void
test_add_ext(STACK_OF(X509_EXTENSION) *exts, const char *san)
{
    X509_EXTENSION  *ext;

    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    assert_non_null(ext);
    assert_true(sk_X509_EXTENSION_push(exts, ext) > 0);
}


/*
 * a DER CSR (new allocation, *len octets) for key with subject CN cn
 * (NULL: none) and a subjectAltName from OpenSSL's config syntax san
 * (NULL: none), san2 (NULL: none) as a second such extension
 */
static unsigned char *
test_csr2(EVP_PKEY *key, const char *cn, const char *san, const char *san2,
    size_t *len)
{
    int                        n;
    X509_REQ                  *req;
    X509_NAME                 *name;
    const EVP_MD              *md;
    unsigned char             *der, *q;
    STACK_OF(X509_EXTENSION)  *exts;

    req = X509_REQ_new();
    assert_non_null(req);
    assert_int_equal(X509_REQ_set_version(req, 0), 1);

    if (cn != NULL) {
        name = X509_REQ_get_subject_name(req);
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                    (const unsigned char *)
                                                    cn, -1, -1, 0),
                         1);
    }

    if (san != NULL) {
        exts = sk_X509_EXTENSION_new_null();
        assert_non_null(exts);
        test_add_ext(exts, san);

        if (san2 != NULL) {
            test_add_ext(exts, san2);
        }

        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }

    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);

    /* Ed25519 signs the message itself */
    md = (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) ? NULL
                                                          : EVP_sha256();
    assert_true(X509_REQ_sign(req, key, md) > 0);

    n = i2d_X509_REQ(req, NULL);
    assert_true(n > 0);

    /* room for the trailing garbage test */
    der = malloc(n + 16);
    assert_non_null(der);
    q = der;
    assert_int_equal(i2d_X509_REQ(req, &q), n);

    X509_REQ_free(req);

    *len = (size_t) n;

    return der;
}


static unsigned char *
test_csr(EVP_PKEY *key, const char *cn, const char *san, size_t *len)
{
    return test_csr2(key, cn, san, NULL, len);
}


static void
test_ok(const unsigned char *der, size_t len, const char *const *names,
    size_t n, unsigned key_types)
{
    X509_REQ        *req;
    acme_problem_t   p;

    memset(&p, 0, sizeof(p));
    req = (X509_REQ *) 1;

    if (acme_csr_check(der, len, names, n, test_keys.account, key_types,
                       &req, &p)
        != ACME_OK)
    {
        fail_msg("CSR refused: %s", p.detail);
    }

    assert_non_null(req);
    X509_REQ_free(req);

    /*
     * Regression (acme_jwk.c, acme_pkey_equal_public): EVP_PKEY_eq()
     * of keys of some different types (here an Ed25519 CSR key against a
     * P-256 account key) pushes "different key types" onto the
     * thread's OpenSSL error queue, and nothing clears it: the check
     * returns ACME_OK with a stale error that the next OpenSSL user of
     * the thread (error logging, SSL_get_error()) sees.  Expected: an
     * empty queue after ACME_OK; was: 03000065.
     */
    assert_int_equal(ERR_peek_error(), 0);
}


/* refused with badCSR; the detail must contain want (NULL: anything) */
static void
test_bad(const unsigned char *der, size_t len, const char *const *names,
    size_t n, unsigned key_types, const char *want)
{
    X509_REQ        *req;
    acme_problem_t   p;

    memset(&p, 0, sizeof(p));
    req = (X509_REQ *) 1;

    if (acme_csr_check(der, len, names, n, test_keys.account, key_types,
                       &req, &p)
        != ACME_ERROR)
    {
        X509_REQ_free(req);
        fail_msg("CSR accepted");
    }

    assert_null(req);
    assert_int_equal(p.type, ACME_PROB_BAD_CSR);
    assert_int_equal(acme_problem_status(&p), 400);
    assert_true(p.detail[0] != '\0');

    if (want != NULL && strstr(p.detail, want) == NULL) {
        fail_msg("detail \"%s\" lacks \"%s\"", p.detail, want);
    }

    assert_int_equal(ERR_peek_error(), 0);
}


static void
test_exact_names(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr(test_keys.p256, "example.com",
                   "DNS:example.com,DNS:www.example.com", &len);
    test_ok(der, len, TEST_N(test_names), ACME_KEY_DEFAULT);
    free(der);

    /* any order, no CN */
    der = test_csr(test_keys.p256, NULL,
                   "DNS:www.example.com,DNS:example.com", &len);
    test_ok(der, len, TEST_N(test_names), ACME_KEY_DEFAULT);
    free(der);

    /* a name twice in the CSR is still the same set */
    der = test_csr(test_keys.p256, NULL, "DNS:www.example.com,"
                   "DNS:example.com,DNS:www.example.com", &len);
    test_ok(der, len, TEST_N(test_names), ACME_KEY_DEFAULT);
    free(der);
}


static void
test_case_insensitive(void **state)
{
    size_t              len;
    unsigned char      *der;
    static const char  *wild[] = { "*.example.com" };

    /* names are compared lowercase (RFC 4343) */
    der = test_csr(test_keys.p256, "WWW.EXAMPLE.COM",
                   "DNS:Example.COM,DNS:www.EXAMPLE.com", &len);
    test_ok(der, len, TEST_N(test_names), ACME_KEY_DEFAULT);
    free(der);

    der = test_csr(test_keys.p256, "*.Example.com", "DNS:*.EXAMPLE.com",
                   &len);
    test_ok(der, len, TEST_N(wild), ACME_KEY_DEFAULT);
    free(der);
}


static void
test_extra_name(void **state)
{
    size_t          len;
    unsigned char  *der;

    /* RFC 8555 7.4: the CSR requests exactly the order's names; the
     * detail quotes the extra one (the SAN is freed after formatting) */
    der = test_csr(test_keys.p256, NULL, "DNS:example.com,"
                   "DNS:www.example.com,DNS:evil.example", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, "evil.example");
    free(der);

    /* a near miss is another name */
    der = test_csr(test_keys.p256, NULL, "DNS:example.com,"
                   "DNS:www.example.co", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT,
             "www.example.co\"");
    free(der);
}


static void
test_missing_name(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr(test_keys.p256, NULL, "DNS:example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT,
             "www.example.com");
    free(der);

    /* RFC 8555 7.4: a dns identifier may be requested by the CN alone */
    der = test_csr(test_keys.p256, "example.com", NULL, &len);
    test_ok(der, len, test_names, 1, ACME_KEY_DEFAULT);
    free(der);
}


static void
test_cn_not_in_sans(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr(test_keys.p256, "other.example",
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT,
             "other.example");
    free(der);
}


static void
test_other_san_types(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr(test_keys.p256, NULL,
                   "DNS:example.com,DNS:www.example.com,IP:192.0.2.1", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    free(der);

    der = test_csr(test_keys.p256, NULL, "IP:192.0.2.1,DNS:example.com,"
                   "DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    free(der);

    der = test_csr(test_keys.p256, NULL, "DNS:example.com,"
                   "DNS:www.example.com,email:a@example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    free(der);

    der = test_csr(test_keys.p256, NULL, "DNS:example.com,"
                   "DNS:www.example.com,URI:https://example.com/", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    free(der);
}


static void
test_two_san_extensions(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr2(test_keys.p256, NULL, "DNS:example.com",
                    "DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    free(der);
}


static void
test_account_key(void **state)
{
    size_t           len;
    X509_REQ        *req;
    unsigned char   *der;
    acme_problem_t   p;

    /* RFC 8555 11.1: the certificate key is not the account key */
    der = test_csr(test_keys.account, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, "account key");

    /* no account key given: nothing to compare */
    assert_int_equal(acme_csr_check(der, len, TEST_N(test_names), NULL,
                                    ACME_KEY_DEFAULT, &req, &p),
                     ACME_OK);
    X509_REQ_free(req);
    free(der);
}


static void
test_key_types(void **state)
{
    size_t          len;
    unsigned char  *der;

    /* ACME_KEY_DEFAULT: RSA 2048..8192, P-256, P-384 */
    der = test_csr(test_keys.rsa1024, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, "1024");
    free(der);

    der = test_csr(test_keys.p384, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_ok(der, len, TEST_N(test_names), ACME_KEY_DEFAULT);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_RSA | ACME_KEY_P256,
             NULL);
    free(der);

    der = test_csr(test_keys.p521, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    test_bad(der, len, TEST_N(test_names), 0xff, NULL);
    free(der);

    der = test_csr(test_keys.ed25519, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    test_ok(der, len, TEST_N(test_names),
            ACME_KEY_DEFAULT | ACME_KEY_ED25519);
    free(der);

    der = test_csr(test_keys.p256, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_RSA, NULL);
    test_ok(der, len, TEST_N(test_names), ACME_KEY_P256);
    free(der);

    /* RFC 5480 2.1.1: P-256 spelled out as explicit parameters */
    der = test_csr(test_keys.p256_explicit, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, "named curve");
    free(der);
}


static void
test_bad_signature(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr(test_keys.p256, "example.com",
                   "DNS:example.com,DNS:www.example.com", &len);

    /* the last octet is inside the signature's S */
    der[len - 1] ^= 0x01;
    test_bad(der, len, TEST_N(test_names), ACME_KEY_DEFAULT, "signature");
    der[len - 1] ^= 0x01;
    test_ok(der, len, TEST_N(test_names), ACME_KEY_DEFAULT);

    free(der);
}


static void
test_bad_der(void **state)
{
    size_t          len;
    unsigned char  *der;

    der = test_csr(test_keys.p256, NULL,
                   "DNS:example.com,DNS:www.example.com", &len);

    /* trailing garbage after the request */
    memcpy(der + len, "garbage", 7);
    test_bad(der, len + 7, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    test_bad(der, len + 1, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);

    /* cut short */
    test_bad(der, len - 1, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    test_bad(der, 10, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);
    test_bad(der, 0, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);

    /* PEM is not DER */
    test_bad((const unsigned char *) "-----BEGIN CERTIFICATE REQUEST-----",
             35, TEST_N(test_names), ACME_KEY_DEFAULT, NULL);

    free(der);
}


static void
test_too_many_names(void **state)
{
    char            *names[ACME_CSR_MAX_NAMES + 1], *san;
    size_t           i, len, size;
    unsigned char   *der;

    size = (ACME_CSR_MAX_NAMES + 1) * 24;
    san = malloc(size);
    assert_non_null(san);
    san[0] = '\0';

    for (i = 0; i < ACME_CSR_MAX_NAMES + 1; i++) {
        names[i] = malloc(24);
        assert_non_null(names[i]);
        snprintf(names[i], 24, "n%zu.example.com", i);

        if (i < ACME_CSR_MAX_NAMES) {
            strcat(san, i ? ",DNS:" : "DNS:");
            strcat(san, names[i]);
        }
    }

    /* the limit itself is fine */
    der = test_csr(test_keys.p256, NULL, san, &len);
    test_ok(der, len, (const char *const *) names, ACME_CSR_MAX_NAMES,
            ACME_KEY_DEFAULT);
    free(der);

    strcat(san, ",DNS:");
    strcat(san, names[ACME_CSR_MAX_NAMES]);

    der = test_csr(test_keys.p256, NULL, san, &len);
    test_bad(der, len, (const char *const *) names, ACME_CSR_MAX_NAMES + 1,
             ACME_KEY_DEFAULT, NULL);
    free(der);

    for (i = 0; i < ACME_CSR_MAX_NAMES + 1; i++) {
        free(names[i]);
    }

    free(san);
}


/* a P-256 key whose SubjectPublicKeyInfo carries the curve's explicit
 * parameters instead of its OID */
static EVP_PKEY *
test_explicit_p256(void)
{
    EVP_PKEY      *key;
    EVP_PKEY_CTX  *ctx;

    key = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0
        || EVP_PKEY_CTX_set_group_name(ctx, "P-256") <= 0
        || EVP_PKEY_CTX_set_ec_param_enc(ctx, OPENSSL_EC_EXPLICIT_CURVE) <= 0
        || EVP_PKEY_keygen(ctx, &key) <= 0)
    {
        key = NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    return key;
}


static int
test_setup(void **state)
{
    test_keys.p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    test_keys.p256_explicit = test_explicit_p256();
    test_keys.account = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    test_keys.p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    test_keys.p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    test_keys.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    test_keys.ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    if (test_keys.p256 == NULL || test_keys.p256_explicit == NULL
        || test_keys.account == NULL
        || test_keys.p384 == NULL || test_keys.p521 == NULL
        || test_keys.rsa1024 == NULL || test_keys.ed25519 == NULL)
    {
        return -1;
    }

    return 0;
}


static int
test_teardown(void **state)
{
    EVP_PKEY_free(test_keys.p256);
    EVP_PKEY_free(test_keys.p256_explicit);
    EVP_PKEY_free(test_keys.account);
    EVP_PKEY_free(test_keys.p384);
    EVP_PKEY_free(test_keys.p521);
    EVP_PKEY_free(test_keys.rsa1024);
    EVP_PKEY_free(test_keys.ed25519);

    return 0;
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_exact_names),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_extra_name),
        cmocka_unit_test(test_missing_name),
        cmocka_unit_test(test_cn_not_in_sans),
        cmocka_unit_test(test_other_san_types),
        cmocka_unit_test(test_two_san_extensions),
        cmocka_unit_test(test_account_key),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_bad_der),
        cmocka_unit_test(test_too_many_names),
    };

    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
