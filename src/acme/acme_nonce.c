/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "acme_base64url.h"
#include "acme_nonce.h"


#define ACME_NONCE_MAC_LEN  16
#define ACME_NONCE_SKEW     60


/*
 * HMAC-SHA256 under the last key a thread used.  OpenSSL 3's one-shot
 * HMAC() fetches the MAC and the digest and builds a context for every
 * call: 1.2 us in a one-thread loop here against 0.2 for a re-used
 * context, but 5 % of the nginx workers' CPU in an issuance run, where the
 * pool threads meet on the provider store's locks (bench/RESULTS.md,
 * fourth round).  A thread keeps one keyed context and re-initialises it
 * (EVP_MAC_init() with a NULL key keeps the key).  Freed, key cleansed,
 * when the thread exits.
 */
typedef struct {
    EVP_MAC_CTX    *ctx;
    unsigned char   key[ACME_NONCE_KEY_LEN];
} acme_nonce_mac_t;


static EVP_MAC          *acme_nonce_hmac;
static pthread_key_t     acme_nonce_key;
static int               acme_nonce_key_ok;
static pthread_once_t    acme_nonce_once = PTHREAD_ONCE_INIT;


static void
acme_nonce_mac_free(void *p)
{
    acme_nonce_mac_t  *m = p;

    EVP_MAC_CTX_free(m->ctx);
    OPENSSL_cleanse(m->key, sizeof(m->key));
    free(m);
}


static void
acme_nonce_init(void)
{
    acme_nonce_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    acme_nonce_key_ok = pthread_key_create(&acme_nonce_key,
                                           acme_nonce_mac_free) == 0;
}


/* this thread's context, keyed with key; NULL when anything failed (out
 * of memory, no HMAC in the provider) */
static EVP_MAC_CTX *
acme_nonce_ctx(const unsigned char *key)
{
    char               digest[] = "SHA256";
    OSSL_PARAM         params[2];
    acme_nonce_mac_t  *m;

    if (pthread_once(&acme_nonce_once, acme_nonce_init) != 0
        || acme_nonce_hmac == NULL || !acme_nonce_key_ok)
    {
        return NULL;
    }

    m = pthread_getspecific(acme_nonce_key);

    if (m == NULL) {
        m = calloc(1, sizeof(acme_nonce_mac_t));
        if (m == NULL) {
            return NULL;
        }

        m->ctx = EVP_MAC_CTX_new(acme_nonce_hmac);

        if (m->ctx == NULL || pthread_setspecific(acme_nonce_key, m) != 0) {
            acme_nonce_mac_free(m);
            return NULL;
        }

    } else if (CRYPTO_memcmp(m->key, key, ACME_NONCE_KEY_LEN) == 0) {
        return EVP_MAC_init(m->ctx, NULL, 0, NULL) ? m->ctx : NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    /* a failed init leaves no key: the next call keys it afresh */
    OPENSSL_cleanse(m->key, sizeof(m->key));

    if (!EVP_MAC_init(m->ctx, key, ACME_NONCE_KEY_LEN, params)) {
        return NULL;
    }

    memcpy(m->key, key, ACME_NONCE_KEY_LEN);

    return m->ctx;
}


static int
acme_nonce_mac(const unsigned char *key, const unsigned char *msg,
    unsigned char *mac)
{
    int            rc;
    size_t         len;
    EVP_MAC_CTX   *ctx;
    unsigned char  md[EVP_MAX_MD_SIZE];

    ctx = acme_nonce_ctx(key);

    rc = (ctx != NULL && EVP_MAC_update(ctx, msg, 16)
          && EVP_MAC_final(ctx, md, &len, sizeof(md))
          && len >= ACME_NONCE_MAC_LEN) ? ACME_OK : ACME_ERROR;

    if (rc == ACME_OK) {
        memcpy(mac, md, ACME_NONCE_MAC_LEN);
    }

    OPENSSL_cleanse(md, sizeof(md));

    return rc;
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
