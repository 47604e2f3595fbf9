/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of the strict base64url codec (src/acme/acme_base64url.c):
 * RFC 4648 10 vectors in the URL-safe alphabet without padding, round
 * trips and every rejection RFC 8555 6.1 and RFC 7515 Appendix C imply.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acme/acme_base64url.h"


#define S(text)  text, sizeof(text) - 1


typedef struct {
    const char  *plain;
    const char  *encoded;
} test_b64u_vector_t;


/* RFC 4648 10, with the padding removed (RFC 7515 2) */
static const test_b64u_vector_t  test_rfc4648_vectors[] = {
    { "", "" },
    { "f", "Zg" },
    { "fo", "Zm8" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg" },
    { "fooba", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy" },
};


static int
test_decode(const char *src, size_t len, unsigned char *dst,
    size_t *out_len)
{
    /* a sentinel, so that a failure cannot pass off stale output */
    *out_len = (size_t) -1;

    return acme_b64u_decode(dst, out_len, src, len);
}


static void
test_rfc4648(void **state)
{
    char           enc[16];
    size_t         i, n, plen;
    unsigned char  dec[16];

    for (i = 0; i < sizeof(test_rfc4648_vectors)
                    / sizeof(test_rfc4648_vectors[0]); i++)
    {
        plen = strlen(test_rfc4648_vectors[i].plain);

        n = acme_b64u_encode(enc, (const unsigned char *)
                             test_rfc4648_vectors[i].plain, plen);
        assert_int_equal(n, strlen(test_rfc4648_vectors[i].encoded));
        assert_int_equal(n, acme_b64u_encoded_len(plen));
        assert_memory_equal(enc, test_rfc4648_vectors[i].encoded, n);

        assert_int_equal(test_decode(test_rfc4648_vectors[i].encoded, n,
                                     dec, &n),
                         ACME_OK);
        assert_int_equal(n, plen);
        assert_memory_equal(dec, test_rfc4648_vectors[i].plain, plen);
    }
}


static void
test_url_alphabet(void **state)
{
    char                  enc[8];
    size_t                n;
    unsigned char         dec[8];
    static unsigned char  raw[] = { 0xfb, 0xff, 0xbf };

    /* 62 and 63 are '-' and '_' (RFC 4648 5), never '+' and '/' */
    n = acme_b64u_encode(enc, raw, sizeof(raw));
    assert_int_equal(n, 4);
    assert_memory_equal(enc, "-_-_", 4);

    assert_int_equal(test_decode(S("-_-_"), dec, &n), ACME_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(dec, raw, 3);
}


static void
test_round_trip(void **state)
{
    char           *s, enc[acme_b64u_encoded_len(64) + 1];
    size_t          len, i, n, m;
    uint32_t        x;
    unsigned char   raw[64], dec[64], *buf;

    /* a fixed LCG: every byte value occurs, and runs are reproducible */
    x = 0x12345678;

    for (len = 0; len <= 64; len++) {
        for (i = 0; i < len; i++) {
            x = x * 1103515245 + 12345;
            raw[i] = (unsigned char) (x >> 16);
        }

        memset(enc, '#', sizeof(enc));
        n = acme_b64u_encode(enc, raw, len);
        assert_int_equal(n, acme_b64u_encoded_len(len));
        assert_int_not_equal(n % 4, 1);
        /* no NUL and nothing else written past the count */
        assert_int_equal(enc[n], '#');

        assert_int_equal(test_decode(enc, n, dec, &m), ACME_OK);
        assert_int_equal(m, len);
        assert_true(m <= acme_b64u_decoded_max(n));
        assert_memory_equal(dec, raw, len);

        s = acme_b64u_encode_alloc(raw, len);
        assert_non_null(s);
        assert_int_equal(strlen(s), n);
        assert_memory_equal(s, enc, n);

        buf = acme_b64u_decode_alloc(s, n, &m);
        assert_non_null(buf);
        assert_int_equal(m, len);
        assert_memory_equal(buf, raw, len);
        assert_int_equal(buf[m], '\0');

        free(buf);
        free(s);
    }
}


static void
test_rejects_alphabet(void **state)
{
    size_t              i, n;
    unsigned char       dec[16];
    static const char  *bad[] = {
        "Zg==",             /* padding (RFC 8555 6.1) */
        "Zm8=",
        "Zg=",
        "Zm9v+A",           /* the standard alphabet */
        "Zm9v/w",
        "Zm9v Yg",          /* whitespace */
        "Zm9v\nYg",
        "Zm9vYg\t",
        " Zm9v",
        "Zm9.",
        "Zm9v\x80Yg",
        NULL
    };

    for (i = 0; bad[i]; i++) {
        if (test_decode(bad[i], strlen(bad[i]), dec, &n) != ACME_ERROR) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
    }

    /* an embedded NUL is a character outside the alphabet as well */
    assert_int_equal(test_decode(S("Zm\0v"), dec, &n), ACME_ERROR);
}


static void
test_rejects_length(void **state)
{
    size_t         n;
    unsigned char  dec[16];

    /* RFC 7515 Appendix C: 1 mod 4 characters encode no byte string */
    assert_int_equal(test_decode(S("Z"), dec, &n), ACME_ERROR);
    assert_int_equal(test_decode(S("Zm9vY"), dec, &n), ACME_ERROR);
    assert_int_equal(test_decode(S("Zm9vYmFyZ"), dec, &n), ACME_ERROR);

    assert_int_equal(test_decode("", 0, dec, &n), ACME_OK);
    assert_int_equal(n, 0);
}


static void
test_rejects_noncanonical(void **state)
{
    size_t         n;
    unsigned char  dec[16];

    /* RFC 4648 3.5: the unused low bits of the last character are zero */
    assert_int_equal(test_decode(S("QQ"), dec, &n), ACME_OK);
    assert_int_equal(n, 1);
    assert_int_equal(dec[0], 'A');

    assert_int_equal(test_decode(S("QR"), dec, &n), ACME_ERROR);
    assert_int_equal(test_decode(S("QX"), dec, &n), ACME_ERROR);
    assert_int_equal(test_decode(S("Q_"), dec, &n), ACME_ERROR);

    assert_int_equal(test_decode(S("QUI"), dec, &n), ACME_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(dec, "AB", 2);

    assert_int_equal(test_decode(S("QUJ"), dec, &n), ACME_ERROR);
    assert_int_equal(test_decode(S("QUL"), dec, &n), ACME_ERROR);

    /* the same after a full quantum */
    assert_int_equal(test_decode(S("Zm9vQR"), dec, &n), ACME_ERROR);
    assert_int_equal(test_decode(S("Zm9vQUJ"), dec, &n), ACME_ERROR);
}


static void
test_decode_alloc(void **state)
{
    size_t          n;
    unsigned char  *buf;

    /* NUL-terminated for convenience, one spare byte */
    buf = acme_b64u_decode_alloc(S("Zm9vYmE"), &n);
    assert_non_null(buf);
    assert_int_equal(n, 5);
    assert_string_equal((char *) buf, "fooba");
    free(buf);

    buf = acme_b64u_decode_alloc("", 0, &n);
    assert_non_null(buf);
    assert_int_equal(n, 0);
    assert_int_equal(buf[0], '\0');
    free(buf);

    /* decoded NULs stay, and the terminator follows them */
    buf = acme_b64u_decode_alloc(S("AAA"), &n);
    assert_non_null(buf);
    assert_int_equal(n, 2);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0);
    assert_int_equal(buf[2], '\0');
    free(buf);

    assert_null(acme_b64u_decode_alloc(S("Zg=="), &n));
    assert_null(acme_b64u_decode_alloc(S("QR"), &n));
    assert_null(acme_b64u_decode_alloc(S("Zm9vY"), &n));
}


static void
test_decode_not_terminated(void **state)
{
    size_t         n;
    unsigned char  dec[16];

    /* (ptr, len) APIs: characters after len are not looked at */
    assert_int_equal(test_decode("Zm9v==+/", 4, dec, &n), ACME_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(dec, "foo", 3);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_rfc4648),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects_alphabet),
        cmocka_unit_test(test_rejects_length),
        cmocka_unit_test(test_rejects_noncanonical),
        cmocka_unit_test(test_decode_alloc),
        cmocka_unit_test(test_decode_not_terminated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
