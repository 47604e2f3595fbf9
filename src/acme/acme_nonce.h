/*
 * Copyright (C) nginx-acme-server authors
 *
 * Stateless anti-replay nonces (RFC 8555 6.5, DESIGN.md): base64url of
 * 8 octets of minting time (big-endian unix seconds), 8 random octets and
 * the first 16 octets of HMAC-SHA256 over both under a key shared by every
 * instance.  Minting touches no store; single use is enforced by the
 * caller (acme_redis_nonce_spend).
 */

#ifndef ACME_NONCE_H
#define ACME_NONCE_H

#include <time.h>
#include "acme_core.h"


#define ACME_NONCE_KEY_LEN  32
#define ACME_NONCE_RAW_LEN  32
#define ACME_NONCE_LEN      43      /* base64url of 32 octets */


/*
 * acme_nonce_mint(): out receives ACME_NONCE_LEN characters and a NUL
 * (ACME_NONCE_LEN + 1 bytes, caller-owned).  key is ACME_NONCE_KEY_LEN
 * octets; rnd is 8 fresh random octets.  Returns ACME_OK or ACME_ERROR.
 */
int acme_nonce_mint(const unsigned char *key, time_t now,
    const unsigned char *rnd, char *out);

/*
 * acme_nonce_check(): nonce (len characters) was minted under key, is not
 * from the future (beyond 60 s of clock skew) and not older than lifetime
 * seconds.  *minted receives its minting time.  ACME_OK, or ACME_ERROR for
 * any fault (the caller answers badNonce).  Constant-time MAC comparison.
 */
int acme_nonce_check(const unsigned char *key, const char *nonce,
    size_t len, time_t now, time_t lifetime, time_t *minted);


#endif /* ACME_NONCE_H */
