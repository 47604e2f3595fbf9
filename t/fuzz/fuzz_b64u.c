/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: base64url (RFC 4648 5 without padding, RFC 7515 2)
 * and the nonces built on it (RFC 8555 6.5).
 *   - decode is strict: whatever it accepts re-encodes to the same text;
 *   - encode then decode is the identity, at the lengths the macros say;
 *   - the _alloc variants agree with the plain ones;
 *   - acme_nonce_check() refuses the input (it carries no valid MAC), and
 *     accepts a nonce minted from the input's first octets.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "acme/acme_base64url.h"
#include "acme/acme_nonce.h"
#include "fuzz_common.h"


static const unsigned char  fuzz_nonce_key[ACME_NONCE_KEY_LEN] =
    "0123456789abcdef0123456789abcdef";


static void
fuzz_nonce(const uint8_t *data, size_t size)
{
    int            i;
    char           nonce[ACME_NONCE_LEN + 1];
    time_t         now, minted;
    uint64_t       t;
    unsigned char  rnd[8];

    FUZZ_CHECK(acme_nonce_check(fuzz_nonce_key, (const char *) data, size,
                                1700000000, 3600, &minted)
               == ACME_ERROR);

    if (size < 12) {
        return;
    }

    /* a time in 0..2^40 s, random octets from the input */
    t = 0;

    for (i = 0; i < 5; i++) {
        t = (t << 8) | data[i];
    }

    now = (time_t) t;
    memcpy(rnd, data + 4, sizeof(rnd));

    FUZZ_CHECK(acme_nonce_mint(fuzz_nonce_key, now, rnd, nonce) == ACME_OK);
    FUZZ_CHECK(strlen(nonce) == ACME_NONCE_LEN);

    FUZZ_CHECK(acme_nonce_check(fuzz_nonce_key, nonce, ACME_NONCE_LEN,
                                now + 10, 60, &minted) == ACME_OK);
    FUZZ_CHECK(minted == now);

    /* expired, from the future, one character changed */
    FUZZ_CHECK(acme_nonce_check(fuzz_nonce_key, nonce, ACME_NONCE_LEN,
                                now + 61, 60, &minted) == ACME_ERROR);
    FUZZ_CHECK(now < 61
               || acme_nonce_check(fuzz_nonce_key, nonce, ACME_NONCE_LEN,
                                   now - 61, 60, &minted) == ACME_ERROR);

    nonce[data[11] % ACME_NONCE_LEN] ^= 0x01;
    FUZZ_CHECK(acme_nonce_check(fuzz_nonce_key, nonce, ACME_NONCE_LEN,
                                now, 60, &minted) == ACME_ERROR);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *enc, *enc2;
    size_t          n, n2, m;
    unsigned char  *dec, *dec2;

    /* decode the input as text */
    dec = malloc(acme_b64u_decoded_max(size) + 1);
    FUZZ_CHECK(dec != NULL);

    if (acme_b64u_decode(dec, &n, (const char *) data, size) == ACME_OK) {
        FUZZ_CHECK(n <= acme_b64u_decoded_max(size));
        FUZZ_CHECK(acme_b64u_encoded_len(n) == size);

        enc = malloc(size + 1);
        FUZZ_CHECK(enc != NULL);
        m = acme_b64u_encode(enc, dec, n);
        FUZZ_CHECK(m == size && memcmp(enc, data, size) == 0);
        free(enc);

        dec2 = acme_b64u_decode_alloc((const char *) data, size, &n2);
        FUZZ_CHECK(dec2 != NULL && n2 == n && memcmp(dec, dec2, n) == 0);
        FUZZ_CHECK(dec2[n2] == '\0');
        free(dec2);

    } else {
        FUZZ_CHECK(acme_b64u_decode_alloc((const char *) data, size, &n2)
                   == NULL);
    }

    free(dec);

    /* encode the input as octets */
    enc = acme_b64u_encode_alloc(data, size);
    FUZZ_CHECK(enc != NULL);
    m = strlen(enc);
    FUZZ_CHECK(m == acme_b64u_encoded_len(size));
    FUZZ_CHECK(m % 4 != 1);
    FUZZ_CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                           "vwxyz0123456789-_") == m);

    enc2 = malloc(m + 1);
    FUZZ_CHECK(enc2 != NULL);
    FUZZ_CHECK(acme_b64u_encode(enc2, data, size) == m);
    FUZZ_CHECK(memcmp(enc, enc2, m) == 0);
    free(enc2);

    dec = acme_b64u_decode_alloc(enc, m, &n);
    FUZZ_CHECK(dec != NULL && n == size && memcmp(dec, data, size) == 0);
    free(dec);
    free(enc);

    fuzz_nonce(data, size);

    return 0;
}
