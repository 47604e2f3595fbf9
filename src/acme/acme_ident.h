/*
 * Copyright (C) nginx-acme-server authors
 *
 * ACME identifiers (RFC 8555 7.1.4, 9.7.7): syntax and normalization.
 */

#ifndef ACME_IDENT_H
#define ACME_IDENT_H

#include <stddef.h>
#include "acme_core.h"
#include "acme_problem.h"


/*
 * acme_ident_dns_normalize(): checks a "dns" identifier value (len octets)
 * and writes its lowercase form to out (ACME_DNS_NAME_MAX + 1 bytes,
 * NUL-terminated).  Accepts LDH labels (RFC 1123 2.1, RFC 5890 A-labels
 * "xn--"), at least two labels, each 1..63 octets without a leading or
 * trailing hyphen, at most 253 octets, a last label that is not all
 * digits, and "*." only as the whole leftmost label (RFC 8555 7.1.3).
 * Refuses a trailing dot, U-labels and other octets, and IP literals,
 * with rejectedIdentifier (RFC 8555 6.7).  *wildcard is set to 1 for
 * "*.name".
 */
int acme_ident_dns_normalize(const char *in, size_t len, char *out,
    int *wildcard, acme_problem_t *p);


/* the longest textual IPv6 address (INET6_ADDRSTRLEN) */
#define ACME_IP_TEXT_MAX  46

/*
 * acme_ident_ip_normalize(): checks an "ip" identifier value (RFC 8738 3:
 * an IPv4 dotted quad or an IPv6 address, no zone, no prefix) and writes
 * its canonical text (RFC 5952 for IPv6) to out (ACME_IP_TEXT_MAX bytes).
 * Anything else is malformed.
 */
int acme_ident_ip_normalize(const char *in, size_t len, char *out,
    acme_problem_t *p);


#endif /* ACME_IDENT_H */
