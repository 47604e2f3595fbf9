/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdlib.h>
#include <string.h>
#include "acme_base64url.h"


static const char  acme_b64u_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static int
acme_b64u_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


size_t
acme_b64u_encode(char *dst, const unsigned char *src, size_t len)
{
    char  *d;

    d = dst;

    while (len >= 3) {
        *d++ = acme_b64u_alphabet[src[0] >> 2];
        *d++ = acme_b64u_alphabet[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *d++ = acme_b64u_alphabet[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = acme_b64u_alphabet[src[2] & 0x3f];
        src += 3;
        len -= 3;
    }

    if (len == 2) {
        *d++ = acme_b64u_alphabet[src[0] >> 2];
        *d++ = acme_b64u_alphabet[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *d++ = acme_b64u_alphabet[(src[1] & 0x0f) << 2];

    } else if (len == 1) {
        *d++ = acme_b64u_alphabet[src[0] >> 2];
        *d++ = acme_b64u_alphabet[(src[0] & 0x03) << 4];
    }

    return d - dst;
}


int
acme_b64u_decode(unsigned char *dst, size_t *out_len, const char *src,
    size_t len)
{
    int             v[4];
    size_t          i, n, rest;
    unsigned char  *d;

    /* RFC 7515 Appendix C: no padding; a lone trailing character is not
     * a valid encoding of any byte string */
    if (len % 4 == 1) {
        return ACME_ERROR;
    }

    d = dst;
    n = len - len % 4;

    for (i = 0; i < n; i += 4) {
        v[0] = acme_b64u_value(src[i]);
        v[1] = acme_b64u_value(src[i + 1]);
        v[2] = acme_b64u_value(src[i + 2]);
        v[3] = acme_b64u_value(src[i + 3]);

        if ((v[0] | v[1] | v[2] | v[3]) < 0) {
            return ACME_ERROR;
        }

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);
        *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);
        *d++ = (unsigned char) (v[2] << 6 | v[3]);
    }

    rest = len - n;

    if (rest >= 2) {
        v[0] = acme_b64u_value(src[n]);
        v[1] = acme_b64u_value(src[n + 1]);
        v[2] = (rest == 3) ? acme_b64u_value(src[n + 2]) : 0;

        if ((v[0] | v[1] | v[2]) < 0) {
            return ACME_ERROR;
        }

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);

        if (rest == 2) {
            /* canonical form: unused low bits are zero (RFC 4648 3.5) */
            if (v[1] & 0x0f) {
                return ACME_ERROR;
            }

        } else {
            *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);

            if (v[2] & 0x03) {
                return ACME_ERROR;
            }
        }
    }

    *out_len = d - dst;

    return ACME_OK;
}


unsigned char *
acme_b64u_decode_alloc(const char *src, size_t len, size_t *out_len)
{
    unsigned char  *buf;

    buf = malloc(acme_b64u_decoded_max(len) + 1);
    if (buf == NULL) {
        return NULL;
    }

    if (acme_b64u_decode(buf, out_len, src, len) != ACME_OK) {
        free(buf);
        return NULL;
    }

    buf[*out_len] = '\0';

    return buf;
}


char *
acme_b64u_encode_alloc(const unsigned char *src, size_t len)
{
    char    *s;
    size_t   n;

    s = malloc(acme_b64u_encoded_len(len) + 1);
    if (s == NULL) {
        return NULL;
    }

    n = acme_b64u_encode(s, src, len);
    s[n] = '\0';

    return s;
}
