/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "acme_policy.h"


/* name equals suffix or ends with "." suffix */
static int
acme_policy_under(const char *name, size_t nlen, const char *suffix,
    size_t slen, int strictly)
{
    if (nlen == slen) {
        return !strictly && memcmp(name, suffix, slen) == 0;
    }

    return nlen > slen && name[nlen - slen - 1] == '.'
           && memcmp(name + nlen - slen, suffix, slen) == 0;
}


static int
acme_policy_match(const char *name, const char *pattern)
{
    int      wild_name, wild_pat;
    size_t   nlen, plen;

    wild_name = name[0] == '*' && name[1] == '.';
    wild_pat = pattern[0] == '*' && pattern[1] == '.';

    if (wild_name) {
        name += 2;
    }

    if (wild_pat) {
        pattern += 2;
    }

    nlen = strlen(name);
    plen = strlen(pattern);

    /* "*.x" stands for the names under x: it matches a pattern when x
     * itself is at or under the pattern's base */
    if (wild_name) {
        return acme_policy_under(name, nlen, pattern, plen, 0);
    }

    return acme_policy_under(name, nlen, pattern, plen, wild_pat);
}


int
acme_policy_name_allowed(const acme_policy_t *pol, const char *name)
{
    size_t  i;

    for (i = 0; i < pol->ndeny_names; i++) {
        if (acme_policy_match(name, pol->deny_names[i])) {
            return 0;
        }
    }

    if (pol->nallow_names == 0) {
        return 1;
    }

    for (i = 0; i < pol->nallow_names; i++) {
        if (acme_policy_match(name, pol->allow_names[i])) {
            return 1;
        }
    }

    return 0;
}


static int
acme_cidr_contains(const acme_cidr_t *c, int family, const unsigned char *a)
{
    int  full, rest;

    if (c->family != family) {
        return 0;
    }

    full = c->bits / 8;
    rest = c->bits % 8;

    if (memcmp(c->addr, a, full) != 0) {
        return 0;
    }

    return rest == 0
           || ((c->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}


int
acme_policy_ip_allowed(const acme_policy_t *pol, const char *ip)
{
    int            family;
    size_t         i;
    unsigned char  a[16];

    family = strchr(ip, ':') ? 6 : 4;

    if (inet_pton(family == 6 ? AF_INET6 : AF_INET, ip, a) != 1) {
        return 0;
    }

    for (i = 0; i < pol->ndeny_ips; i++) {
        if (acme_cidr_contains(&pol->deny_ips[i], family, a)) {
            return 0;
        }
    }

    if (pol->nallow_ips == 0) {
        return 1;
    }

    for (i = 0; i < pol->nallow_ips; i++) {
        if (acme_cidr_contains(&pol->allow_ips[i], family, a)) {
            return 1;
        }
    }

    return 0;
}


int
acme_cidr_parse(const char *s, size_t len, acme_cidr_t *c)
{
    int           i, max;
    char          buf[64], *slash, *end;
    long          bits;

    if (len == 0 || len >= sizeof(buf)) {
        return ACME_ERROR;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(c, 0, sizeof(*c));

    slash = strchr(buf, '/');
    if (slash) {
        *slash++ = '\0';
    }

    c->family = strchr(buf, ':') ? 6 : 4;
    max = (c->family == 6) ? 128 : 32;

    if (inet_pton(c->family == 6 ? AF_INET6 : AF_INET, buf, c->addr) != 1) {
        return ACME_ERROR;
    }

    bits = max;

    if (slash) {
        bits = strtol(slash, &end, 10);
        if (*slash == '\0' || *end != '\0' || bits < 0 || bits > max) {
            return ACME_ERROR;
        }
    }

    c->bits = (int) bits;

    /* no host bits beyond the prefix: "10.0.0.1/8" is a typo */
    for (i = c->bits; i < max; i++) {
        if (c->addr[i / 8] & (0x80 >> (i % 8))) {
            return ACME_ERROR;
        }
    }

    return ACME_OK;
}


int
acme_policy_pattern_ok(const char *s, size_t len)
{
    size_t  i, label;

    if (len >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        len -= 2;
    }

    if (len == 0 || len > ACME_DNS_NAME_MAX) {
        return 0;
    }

    label = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0) {
                return 0;
            }

            label = 0;
            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '-'))
        {
            return 0;
        }

        if (++label > 63) {
            return 0;
        }
    }

    return label > 0;
}
