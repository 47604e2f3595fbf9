/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <stdint.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include "acme_base64url.h"
#include "acme_nonce.h"


#define ACME_NONCE_MAC_LEN  16
#define ACME_NONCE_SKEW     60


static int
acme_nonce_mac(const unsigned char *key, const unsigned char *msg,
    unsigned char *mac)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (HMAC(EVP_sha256(), key, ACME_NONCE_KEY_LEN, msg, 16, md, &n)
        == NULL)
    {
        return ACME_ERROR;
    }

    memcpy(mac, md, ACME_NONCE_MAC_LEN);
    OPENSSL_cleanse(md, sizeof(md));

    return ACME_OK;
}


int
acme_nonce_mint(const unsigned char *key, time_t now,
    const unsigned char *rnd, char *out)
{
    int            i;
    uint64_t       t;
    unsigned char  raw[ACME_NONCE_RAW_LEN];

    t = (uint64_t) now;

    for (i = 7; i >= 0; i--) {
        raw[i] = (unsigned char) (t & 0xff);
        t >>= 8;
    }

    memcpy(raw + 8, rnd, 8);

    if (acme_nonce_mac(key, raw, raw + 16) != ACME_OK) {
        return ACME_ERROR;
    }

    out[acme_b64u_encode(out, raw, sizeof(raw))] = '\0';

    return ACME_OK;
}


int
acme_nonce_check(const unsigned char *key, const char *nonce, size_t len,
    time_t now, time_t lifetime, time_t *minted)
{
    int            i;
    size_t         n;
    uint64_t       t;
    unsigned char  raw[ACME_NONCE_RAW_LEN + 2], mac[ACME_NONCE_MAC_LEN];

    if (len != ACME_NONCE_LEN
        || acme_b64u_decode(raw, &n, nonce, len) != ACME_OK
        || n != ACME_NONCE_RAW_LEN)
    {
        return ACME_ERROR;
    }

    if (acme_nonce_mac(key, raw, mac) != ACME_OK
        || CRYPTO_memcmp(mac, raw + 16, ACME_NONCE_MAC_LEN) != 0)
    {
        return ACME_ERROR;
    }

    t = 0;

    for (i = 0; i < 8; i++) {
        t = (t << 8) | raw[i];
    }

    if (t > (uint64_t) now + ACME_NONCE_SKEW
        || (uint64_t) now > t + (uint64_t) lifetime)
    {
        return ACME_ERROR;
    }

    *minted = (time_t) t;

    return ACME_OK;
}
