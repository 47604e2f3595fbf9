/*
 * Copyright (C) nginx-acme-server authors
 *
 * Common return codes and limits of the ACME core (src/acme), shared by
 * the storage, signer, server and validator layers.
 */

#ifndef ACME_CORE_H
#define ACME_CORE_H

#include <stddef.h>
#include <time.h>


#define ACME_OK            0
#define ACME_ERROR        -1
#define ACME_NOT_FOUND    -2     /* no such row / object */
#define ACME_CONFLICT     -3     /* a conditional state change did not apply */

/* public ids: 16 random bytes, base64url without padding -> 22 chars */
#define ACME_ID_BYTES      16
#define ACME_ID_LEN        22

/* RFC 7638 thumbprint: base64url(SHA-256) -> 43 chars */
#define ACME_THUMBPRINT_LEN  43

/* RFC 1035 2.3.4: 253 characters without the trailing dot */
#define ACME_DNS_NAME_MAX  253

/* RFC 8555 8.1: a token has at least 128 bits of entropy (32 bytes here) */
#define ACME_TOKEN_BYTES   32
#define ACME_TOKEN_LEN     43

/* a random-bytes source: fills buf with len bytes, returns ACME_OK */
typedef int (*acme_rand_pt)(unsigned char *buf, size_t len);


#endif /* ACME_CORE_H */
