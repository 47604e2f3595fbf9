/*
 * Copyright (C) nginx-acme-server authors
 *
 * Optional DNSSEC validation of the validator's DNS answers (RFC 4033,
 * RFC 4035).  When "dnssec_trust_anchor" is set every query of
 * acmev_resolve.c goes through libunbound, which asks the configured
 * resolvers and validates the answer from the trust anchors down; a bogus
 * answer fails the lookup.  Checking a signature chain is not this
 * project's business, so a well-kept library does it.
 */

#ifndef ACMEV_DNSSEC_H
#define ACMEV_DNSSEC_H

#include <stddef.h>
#include <ldns/ldns.h>

#include "acmev_conf.h"


/* what validation said of an answer (RFC 4035 4.3) */
#define ACMEV_DNSSEC_OFF       0     /* no trust anchor configured */
#define ACMEV_DNSSEC_INSECURE  1     /* no chain of trust covers it */
#define ACMEV_DNSSEC_SECURE    2     /* signed and verified */

/* the largest trust anchor file read */
#define ACMEV_DNSSEC_ANCHOR_FILE_MAX  (1024 * 1024)


/*
 * acmev_dnssec_query(): one question (name, type, class IN) answered by a
 * validating resolver: libunbound with conf->dnssec_ta as trust anchors,
 * forwarding to one resolver of conf at a time, in order.  Each resolver
 * has conf->timeout seconds for the whole validated lookup (DNSKEY and DS
 * queries included); a timeout, an rcode other than NOERROR and NXDOMAIN,
 * or a bogus answer moves on to the next one.  Nothing is cached between
 * calls (a record just published by RFC 2136 is seen at once).
 *
 * ACMEV_OK: *pkt (caller frees with ldns_pkt_free) holds a NOERROR or
 * NXDOMAIN reply from *used, *state is ACMEV_DNSSEC_SECURE or
 * ACMEV_DNSSEC_INSECURE.  ACMEV_EFAILED: no resolver gave a usable answer;
 * why says "DNSSEC validation failed (bogus): " and libunbound's reason
 * when one answer was bogus (RFC 4035 5.5: bogus data is never used), else
 * what the last resolver did (timeout, rcode).  ACMEV_ENOMEM.
 */
int acmev_dnssec_query(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, ldns_pkt **pkt, const acmev_ns_t **used, int *state,
    char *why, size_t whylen);

/*
 * acmev_dnssec_anchor_load(): reads the trust anchor file
 * conf->dnssec_trust_anchor (an absolute path to a regular file of at most
 * ACMEV_DNSSEC_ANCHOR_FILE_MAX bytes in zone file syntax, as unbound's
 * trust-anchor-file and Debian's /usr/share/dns/root.key: DS or DNSKEY
 * records of class IN with algorithms and digest types libunbound
 * validates, $ORIGIN and $TTL lines, comments) into conf->dnssec_ta, one
 * record a string, and checks that libunbound accepts them with the
 * options of the checks (one context made and used, no query sent).
 * The anchors then belong to the configuration: a file changed later
 * takes effect only with the next successful reload.  Does nothing when
 * the option is unset.
 *
 * ACMEV_OK; ACMEV_EINVAL with err ("path:line: reason"); ACMEV_ENOMEM.
 */
int acmev_dnssec_anchor_load(acmev_conf_t *conf, char *err, size_t errlen);

/* "secure", "insecure" or NULL (ACMEV_DNSSEC_OFF), for records and logs */
const char *acmev_dnssec_state_name(int state);


#endif /* ACMEV_DNSSEC_H */
