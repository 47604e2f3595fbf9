/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <stdint.h>
#include <arpa/inet.h>
#include "acme_ident.h"


/* RFC 3492 6.1 */
static uint32_t
acme_ident_adapt(uint32_t delta, uint32_t points, int first)
{
    uint32_t  k;

    delta = first ? delta / 700 : delta / 2;
    delta += delta / points;

    for (k = 0; delta > ((36 - 1) * 26) / 2; k += 36) {
        delta /= 36 - 1;
    }

    return k + (36 * delta) / (delta + 38);
}


/*
 * An A-label ("xn--" + Punycode, RFC 5890 2.3.2.1) must decode (RFC 3492
 * 6.2) to a label of at most 63 code points, at least one of them
 * non-ASCII, none a control character or surrogate.  s and len exclude
 * the "xn--" prefix.
 */
static int
acme_ident_a_label_ok(const char *s, size_t len)
{
    int        ascii_only;
    size_t     b, in, j, out;
    uint32_t   n, i, oldi, w, k, t, digit, bias;
    uint32_t   cp[64];

    if (len == 0) {
        return 0;
    }

    /* the basic code points come before the last delimiter */
    for (b = len; b > 0 && s[b - 1] != '-'; b--) { /* void */ }

    out = 0;

    if (b > 0) {
        if (b - 1 > 63) {
            return 0;
        }

        for (j = 0; j < b - 1; j++) {
            cp[out++] = (unsigned char) s[j];
        }
    }

    n = 128;
    i = 0;
    bias = 72;
    ascii_only = 1;

    for (in = b; in < len; /* void */) {
        oldi = i;
        w = 1;

        for (k = 36; /* void */; k += 36) {
            if (in >= len) {
                return 0;
            }

            digit = (uint32_t) s[in++];
            digit = (digit >= '0' && digit <= '9') ? digit - '0' + 26
                    : (digit >= 'a' && digit <= 'z') ? digit - 'a'
                    : (digit >= 'A' && digit <= 'Z') ? digit - 'A' : 36;

            if (digit >= 36 || digit > (UINT32_MAX - i) / w) {
                return 0;
            }

            i += digit * w;
            t = (k <= bias) ? 1 : (k >= bias + 26) ? 26 : k - bias;

            if (digit < t) {
                break;
            }

            if (w > UINT32_MAX / (36 - t)) {
                return 0;
            }

            w *= 36 - t;
        }

        if (out >= 63) {
            return 0;
        }

        bias = acme_ident_adapt(i - oldi, (uint32_t) out + 1, oldi == 0);

        if (i / (out + 1) > UINT32_MAX - n) {
            return 0;
        }

        n += i / (uint32_t) (out + 1);
        i %= (uint32_t) (out + 1);

        /* no controls, surrogates or values beyond Unicode */
        if (n < 0xa0 || (n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) {
            return 0;
        }

        memmove(&cp[i + 1], &cp[i], (out - i) * sizeof(uint32_t));
        cp[i++] = n;
        out++;
        ascii_only = 0;
    }

    return !ascii_only;
}


int
acme_ident_dns_normalize(const char *in, size_t len, char *out,
    int *wildcard, acme_problem_t *p)
{
    int          digits_only, labels;
    size_t       i, start, label_len, label_end;
    unsigned     c;

    *wildcard = 0;

    if (len == 0) {
        return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                "empty dns identifier");
    }

    if (len > ACME_DNS_NAME_MAX) {
        return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                "dns identifier longer than %d octets",
                                ACME_DNS_NAME_MAX);
    }

    /* RFC 8555 7.1.4: a wildcard is "*." followed by a domain name */
    if (len >= 2 && in[0] == '*' && in[1] == '.') {
        *wildcard = 1;
        out[0] = '*';
        out[1] = '.';
        start = 2;

    } else {
        start = 0;
    }

    labels = 0;
    label_len = 0;
    digits_only = 1;

    for (i = start; i < len; i++) {
        c = (unsigned char) in[i];

        if (c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        }

        if (c == '.') {
            if (label_len == 0) {
                return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                        "dns identifier \"%.*s\" has an "
                                        "empty label or a trailing dot",
                                        (int) len, in);
            }

            if (out[i - 1] == '-') {
                goto hyphen;
            }

            labels++;
            label_len = 0;
            digits_only = 1;
            out[i] = '.';
            continue;
        }

        if (c == '*') {
            return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                    "a wildcard is allowed only as the "
                                    "whole leftmost label (RFC 8555 7.1.3)");
        }

        if (c >= 0x80) {
            return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                    "dns identifiers must be ASCII: encode "
                                    "internationalized names as A-labels "
                                    "(RFC 5890)");
        }

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
        {
            return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                    "dns identifier contains the character "
                                    "0x%02x, not a letter, digit or hyphen",
                                    c);
        }

        if (c == '-' && label_len == 0) {
            goto hyphen;
        }

        if (++label_len > 63) {
            return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                    "dns identifier has a label longer than "
                                    "63 octets");
        }

        if (!(c >= '0' && c <= '9')) {
            digits_only = 0;
        }

        out[i] = (char) c;
    }

    if (label_len == 0) {
        return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                "dns identifier has an empty label or a "
                                "trailing dot");
    }

    if (out[len - 1] == '-') {
        goto hyphen;
    }

    labels++;
    out[len] = '\0';

    /* RFC 5890: an "xn--" label must be a valid A-label */
    for (i = start; i < len; i = label_end + 1) {
        const char  *dot;

        dot = memchr(out + i, '.', len - i);
        label_end = dot ? (size_t) (dot - out) : len;

        if (label_end - i >= 4 && memcmp(out + i, "xn--", 4) == 0
            && !acme_ident_a_label_ok(out + i + 4, label_end - i - 4))
        {
            return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                    "dns identifier \"%s\" has an \"xn--\" "
                                    "label that is not a valid A-label "
                                    "(RFC 5890)", out);
        }

        if (label_end == len) {
            break;
        }
    }

    if (labels < 2) {
        return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                "dns identifier \"%s\" is not a domain name "
                                "with at least two labels", out);
    }

    /* also refuses IPv4 literals, which belong to "ip" identifiers */
    if (digits_only) {
        return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                                "dns identifier \"%s\" has an all-numeric "
                                "top-level label", out);
    }

    return ACME_OK;

hyphen:

    return acme_problem_set(p, ACME_PROB_REJECTED_IDENTIFIER,
                            "dns identifier has a label that begins or ends "
                            "with a hyphen");
}


int
acme_ident_ip_normalize(const char *in, size_t len, char *out,
    acme_problem_t *p)
{
    int            af;
    char           buf[ACME_IP_TEXT_MAX];
    unsigned char  addr[16];

    /* inet_pton() would stop at an embedded NUL */
    if (len == 0 || len >= sizeof(buf) || memchr(in, '\0', len) != NULL) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "ip identifier is not an IP address");
    }

    memcpy(buf, in, len);
    buf[len] = '\0';

    af = memchr(buf, ':', len) ? AF_INET6 : AF_INET;

    /* inet_pton() takes neither zones ("%eth0") nor prefixes ("/24") */
    if (inet_pton(af, buf, addr) != 1
        || inet_ntop(af, addr, out, ACME_IP_TEXT_MAX) == NULL)
    {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "ip identifier \"%s\" is not an IPv4 or "
                                "IPv6 address (RFC 8738 3)", buf);
    }

    return ACME_OK;
}
