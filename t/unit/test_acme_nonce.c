/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of the stateless anti-replay nonces (src/acme/acme_nonce.c,
 * RFC 8555 6.5).  Time is a parameter, so no test reads the clock.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acme/acme_base64url.h"
#include "acme/acme_nonce.h"


#define TEST_NOW       ((time_t) 1700000000)
#define TEST_LIFETIME  ((time_t) 3600)
#define TEST_SKEW      60


static const unsigned char  test_key[ACME_NONCE_KEY_LEN] =
    "0123456789abcdef0123456789abcdef";

static const unsigned char  test_rnd[8] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
};


static void
test_mint(char *out, time_t when)
{
    memset(out, '#', ACME_NONCE_LEN + 1);
    assert_int_equal(acme_nonce_mint(test_key, when, test_rnd, out), ACME_OK);
}


static int
test_check(const unsigned char *key, const char *nonce, size_t len,
    time_t now, time_t *minted)
{
    *minted = (time_t) -1;

    return acme_nonce_check(key, nonce, len, now, TEST_LIFETIME, minted);
}


static void
test_round_trip(void **state)
{
    char            nonce[ACME_NONCE_LEN + 1], again[ACME_NONCE_LEN + 1];
    size_t          n;
    time_t          minted;
    unsigned char   raw[ACME_NONCE_RAW_LEN];

    test_mint(nonce, TEST_NOW);

    assert_int_equal(strlen(nonce), ACME_NONCE_LEN);
    assert_int_equal(acme_b64u_decode(raw, &n, nonce, ACME_NONCE_LEN),
                     ACME_OK);
    assert_int_equal(n, ACME_NONCE_RAW_LEN);

    /* big-endian minting time, then the random octets */
    assert_int_equal(raw[4], (TEST_NOW >> 24) & 0xff);
    assert_int_equal(raw[7], TEST_NOW & 0xff);
    assert_memory_equal(raw + 8, test_rnd, 8);

    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN, TEST_NOW,
                                &minted),
                     ACME_OK);
    assert_int_equal(minted, TEST_NOW);

    /* a pure function of its inputs */
    test_mint(again, TEST_NOW);
    assert_string_equal(again, nonce);
}


static void
test_minted_time(void **state)
{
    char    nonce[ACME_NONCE_LEN + 1];
    time_t  minted;

    test_mint(nonce, TEST_NOW - 100);

    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN, TEST_NOW,
                                &minted),
                     ACME_OK);
    assert_int_equal(minted, TEST_NOW - 100);
}


static void
test_wrong_key(void **state)
{
    char           nonce[ACME_NONCE_LEN + 1];
    time_t         minted;
    unsigned char  other[ACME_NONCE_KEY_LEN];

    test_mint(nonce, TEST_NOW);

    memcpy(other, test_key, sizeof(other));
    other[ACME_NONCE_KEY_LEN - 1] ^= 0x01;

    assert_int_equal(test_check(other, nonce, ACME_NONCE_LEN, TEST_NOW,
                                &minted),
                     ACME_ERROR);
}


static void
test_tampered(void **state)
{
    char    nonce[ACME_NONCE_LEN + 1], bad[ACME_NONCE_LEN + 1];
    size_t  i;
    time_t  minted;

    test_mint(nonce, TEST_NOW);

    /* every position: time, random part and MAC are all covered; the
     * replacement keeps the last character canonical (low bits zero) */
    for (i = 0; i < ACME_NONCE_LEN; i++) {
        memcpy(bad, nonce, sizeof(bad));
        bad[i] = (bad[i] == 'A') ? 'Q' : 'A';

        if (test_check(test_key, bad, ACME_NONCE_LEN, TEST_NOW, &minted)
            != ACME_ERROR)
        {
            fail_msg("nonce changed at %zu was accepted: %s", i, bad);
        }
    }
}


static void
test_expired(void **state)
{
    char    nonce[ACME_NONCE_LEN + 1];
    time_t  minted;

    test_mint(nonce, TEST_NOW);

    /* the last second of the lifetime is still good */
    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN,
                                TEST_NOW + TEST_LIFETIME, &minted),
                     ACME_OK);

    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN,
                                TEST_NOW + TEST_LIFETIME + 1, &minted),
                     ACME_ERROR);

    assert_int_equal(acme_nonce_check(test_key, nonce, ACME_NONCE_LEN,
                                      TEST_NOW + 1, 0, &minted),
                     ACME_ERROR);
}


static void
test_future(void **state)
{
    char    nonce[ACME_NONCE_LEN + 1];
    time_t  minted;

    /* another instance's clock may run ahead by up to 60 s */
    test_mint(nonce, TEST_NOW + TEST_SKEW);
    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN, TEST_NOW,
                                &minted),
                     ACME_OK);
    assert_int_equal(minted, TEST_NOW + TEST_SKEW);

    test_mint(nonce, TEST_NOW + TEST_SKEW + 1);
    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN, TEST_NOW,
                                &minted),
                     ACME_ERROR);
}


static void
test_wrong_length(void **state)
{
    char    nonce[ACME_NONCE_LEN + 8];
    time_t  minted;

    test_mint(nonce, TEST_NOW);

    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN - 1,
                                TEST_NOW, &minted),
                     ACME_ERROR);
    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN - 3,
                                TEST_NOW, &minted),
                     ACME_ERROR);
    assert_int_equal(test_check(test_key, nonce, 0, TEST_NOW, &minted),
                     ACME_ERROR);

    memcpy(nonce + ACME_NONCE_LEN, "AAAA", 5);
    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN + 4,
                                TEST_NOW, &minted),
                     ACME_ERROR);

    /* a right-sized string that is not base64url */
    memset(nonce, '=', ACME_NONCE_LEN);
    assert_int_equal(test_check(test_key, nonce, ACME_NONCE_LEN, TEST_NOW,
                                &minted),
                     ACME_ERROR);
}


static const unsigned char  test_key2[ACME_NONCE_KEY_LEN] =
    "fedcba9876543210fedcba9876543210";


/* 1 when the nonce's last 16 octets are HMAC-SHA256 (RFC 2104) of its
 * first 16 under key, as OpenSSL's one-shot HMAC() computes it (no cmocka
 * assertion: it runs in a second thread too) */
static int
test_mac_ok(const unsigned char *key, const char *nonce)
{
    size_t          n;
    unsigned int    len;
    unsigned char   raw[ACME_NONCE_RAW_LEN], md[EVP_MAX_MD_SIZE];

    return acme_b64u_decode(raw, &n, nonce, ACME_NONCE_LEN) == ACME_OK
           && n == ACME_NONCE_RAW_LEN
           && HMAC(EVP_sha256(), key, ACME_NONCE_KEY_LEN, raw, 16, md, &len)
              != NULL
           && memcmp(raw + 16, md, 16) == 0;
}


/* the per-thread context: repeated use, a key change and back, and the
 * MAC stays HMAC-SHA256 under the key of each call */
static void *
test_mac_thread(void *arg)
{
    int      i;
    char     nonce[ACME_NONCE_LEN + 1];
    time_t   minted;

    (void) arg;

    for (i = 0; i < 6; i++) {
        const unsigned char  *key = (i % 3 == 2) ? test_key2 : test_key;

        if (acme_nonce_mint(key, TEST_NOW + i, test_rnd, nonce) != ACME_OK
            || acme_nonce_check(key, nonce, ACME_NONCE_LEN, TEST_NOW + i,
                                TEST_LIFETIME, &minted) != ACME_OK
            || acme_nonce_check(key == test_key ? test_key2 : test_key,
                                nonce, ACME_NONCE_LEN, TEST_NOW + i,
                                TEST_LIFETIME, &minted) != ACME_ERROR
            || !test_mac_ok(key, nonce))
        {
            return (void *) 1;
        }
    }

    return NULL;
}


static void
test_mac_is_hmac_sha256(void **state)
{
    void       *rc;
    pthread_t   t;

    (void) state;

    assert_null(test_mac_thread(NULL));

    /* another thread starts with no context */
    assert_int_equal(pthread_create(&t, NULL, test_mac_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_null(rc);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_minted_time),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_future),
        cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_mac_is_hmac_sha256),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
