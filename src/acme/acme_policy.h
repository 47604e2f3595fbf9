/*
 * Copyright (C) nginx-acme-server authors
 *
 * Issuance policy on identifiers: which dns names and IP addresses a CA
 * may certify (operator configuration; RFC 8555 6.7 rejectedIdentifier).
 */

#ifndef ACME_POLICY_H
#define ACME_POLICY_H

#include <stddef.h>
#include "acme_core.h"


typedef struct {
    unsigned char   addr[16];
    int             family;          /* 4 or 6 */
    int             bits;            /* prefix length */
} acme_cidr_t;

/* patterns and ranges are borrowed (owned by the configuration) */
typedef struct {
    const char *const  *allow_names;     /* NULL or n entries */
    size_t              nallow_names;
    const char *const  *deny_names;
    size_t              ndeny_names;
    const acme_cidr_t  *allow_ips;
    size_t              nallow_ips;
    const acme_cidr_t  *deny_ips;
    size_t              ndeny_ips;
} acme_policy_t;


/*
 * acme_policy_name_allowed(): name is a normalized dns identifier ("*."
 * allowed).  A pattern "example.com" matches example.com and every name
 * under it; "*.example.com" only the names under it.  A wildcard name
 * "*.x" matches where every name under x would.  Denials win; with no
 * allow pattern every name not denied is allowed.  Returns 1 or 0.
 */
int acme_policy_name_allowed(const acme_policy_t *pol, const char *name);

/* the same for an IP address in text (normalized); ranges as CIDR */
int acme_policy_ip_allowed(const acme_policy_t *pol, const char *ip);

/*
 * acme_cidr_parse(): "192.0.2.0/24", "2001:db8::/32" or a single address
 * (len octets) into *c.  ACME_OK or ACME_ERROR (also for host bits set
 * beyond the prefix).
 */
int acme_cidr_parse(const char *s, size_t len, acme_cidr_t *c);

/* a name pattern (len octets) is well-formed: "[*.]label(.label)*" */
int acme_policy_pattern_ok(const char *s, size_t len);


#endif /* ACME_POLICY_H */
