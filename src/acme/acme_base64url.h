/*
 * Copyright (C) nginx-acme-server authors
 *
 * base64url without padding (RFC 4648 5, RFC 7515 2 and Appendix C), as
 * ACME requires for every binary field (RFC 8555 6.1).
 */

#ifndef ACME_BASE64URL_H
#define ACME_BASE64URL_H

#include <stddef.h>
#include "acme_core.h"


/* number of characters encoding len bytes (no padding, no NUL) */
#define acme_b64u_encoded_len(len)  (((len) * 4 + 2) / 3)

/* upper bound of bytes decoded from len characters */
#define acme_b64u_decoded_max(len)  (((len) * 3) / 4)

/*
 * acme_b64u_encode(): writes acme_b64u_encoded_len(len) characters to dst
 * (caller-owned; no NUL is added) and returns that count.
 */
size_t acme_b64u_encode(char *dst, const unsigned char *src, size_t len);

/*
 * acme_b64u_decode(): strict decoding of len characters into dst
 * (caller-owned, at least acme_b64u_decoded_max(len) bytes).  Rejects
 * padding, characters outside the URL-safe alphabet (RFC 4648 5), a
 * length of 1 mod 4 and non-zero trailing bits (non-canonical encodings).
 * On ACME_OK *out_len holds the decoded length; ACME_ERROR otherwise.
 */
int acme_b64u_decode(unsigned char *dst, size_t *out_len, const char *src,
    size_t len);

/*
 * acme_b64u_decode_alloc(): the same into a new malloc'ed buffer (one spare
 * byte, NUL-terminated for convenience; caller frees).  NULL on bad input
 * or allocation failure.
 */
unsigned char *acme_b64u_decode_alloc(const char *src, size_t len,
    size_t *out_len);

/*
 * acme_b64u_encode_alloc(): new NUL-terminated malloc'ed string (caller
 * frees), NULL on allocation failure.
 */
char *acme_b64u_encode_alloc(const unsigned char *src, size_t len);


#endif /* ACME_BASE64URL_H */
