/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: an identifier value (the octets of the JSON string of
 * newOrder) through acme_ident_dns_normalize() and
 * acme_ident_ip_normalize().  Accepted names are checked against the
 * contract of acme_ident.h independently, and normalization must be
 * idempotent.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "acme/acme_ident.h"
#include "fuzz_common.h"


/* strict: fail on every broken invariant.  Once FUZZ_STRICT only (known
 * bugs were tolerated); those bugs are fixed, so every run is strict, and
 * their inputs are regression seeds in the corpus */
static int  fuzz_strict;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_strict = 1;

    return 0;
}


static void
fuzz_dns(const char *in, size_t len)
{
    int             wildcard, again_wc, labels;
    char            out[ACME_DNS_NAME_MAX + 1], again[ACME_DNS_NAME_MAX + 1];
    size_t          i, label;
    acme_problem_t  p;

    if (acme_ident_dns_normalize(in, len, out, &wildcard, &p) != ACME_OK) {
        fuzz_problem_check(&p, ACME_PROB_REJECTED_IDENTIFIER);
        return;
    }

    FUZZ_CHECK(len <= ACME_DNS_NAME_MAX && strlen(out) == len);
    FUZZ_CHECK(wildcard == (len > 2 && in[0] == '*' && in[1] == '.'));

    /* LDH labels of 1..63 octets, lowercase, no hyphen at either end,
     * at least two labels (RFC 1123 2.1, RFC 8555 7.1.3) */
    labels = 0;
    label = 0;

    for (i = wildcard ? 2 : 0; i <= len; i++) {
        if (i == len || out[i] == '.') {
            FUZZ_CHECK(label >= 1 && label <= 63);
            FUZZ_CHECK(out[i - 1] != '-' && out[i - label] != '-');
            labels++;
            label = 0;
            continue;
        }

        FUZZ_CHECK((out[i] >= 'a' && out[i] <= 'z')
                   || (out[i] >= '0' && out[i] <= '9') || out[i] == '-');
        FUZZ_CHECK(out[i] == in[i]
                   || (in[i] >= 'A' && in[i] <= 'Z'
                       && out[i] == in[i] + ('a' - 'A')));
        label++;
    }

    FUZZ_CHECK(labels >= 2);

    FUZZ_CHECK(acme_ident_dns_normalize(out, len, again, &again_wc, &p)
               == ACME_OK);
    FUZZ_CHECK(strcmp(out, again) == 0 && again_wc == wildcard);
}


static void
fuzz_ip(const char *in, size_t len)
{
    char            out[ACME_IP_TEXT_MAX], again[ACME_IP_TEXT_MAX];
    unsigned char   a[16], b[16];
    acme_problem_t  p;

    memset(out, 0, sizeof(out));

    if (acme_ident_ip_normalize(in, len, out, &p) != ACME_OK) {
        fuzz_problem_check(&p, ACME_PROB_MALFORMED);
        return;
    }

    FUZZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL);

    /* known bug: a NUL ends the address, the rest is ignored
     * (crashers/fuzz_ident/ip-embedded-nul) */
    if (memchr(in, '\0', len) != NULL) {
        FUZZ_CHECK(!fuzz_strict);
        return;
    }

    /* canonical text of the same address, and a fixed point */
    FUZZ_CHECK(acme_ident_ip_normalize(out, strlen(out), again, &p)
               == ACME_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);

    if (strchr(out, ':')) {
        FUZZ_CHECK(inet_pton(AF_INET6, out, a) == 1);
        FUZZ_CHECK(inet_pton(AF_INET6, again, b) == 1);
        FUZZ_CHECK(memcmp(a, b, 16) == 0);

    } else {
        /* inet_pton() takes no leading zeros: IPv4 text is canonical */
        FUZZ_CHECK(inet_pton(AF_INET, out, a) == 1);
        FUZZ_CHECK(strlen(out) == len && memcmp(out, in, len) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dns((const char *) data, size);
    fuzz_ip((const char *) data, size);

    return 0;
}
