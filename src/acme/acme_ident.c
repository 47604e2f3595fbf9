/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <arpa/inet.h>
#include "acme_ident.h"


int
acme_ident_dns_normalize(const char *in, size_t len, char *out,
    int *wildcard, acme_problem_t *p)
{
    int          digits_only, labels;
    size_t       i, start, label_len;
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
