/*
 * Copyright (C) nginx-acme-server authors
 *
 * Optional DNSSEC validation of the validator's DNS answers (RFC 4033,
 * RFC 4035).  When "dnssec_trust_anchor" is set every query of
 * acmev_resolve.c goes through libunbound, which forwards to the
 * configured resolvers and validates the answer from the trust anchor
 * down; a bogus answer fails the lookup.  Checking a signature chain is
 * not this project's business, so a well-kept library does it.
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


/*
 * acmev_dnssec_query(): one question (name, type, class IN) answered by a
 * validating resolver: libunbound forwarding to every resolver of conf
 * (tried as libunbound chooses) with conf->dnssec_trust_anchor as trust
 * anchor file, no cache shared between calls (a record just published by
 * RFC 2136 is seen at once).  The whole lookup, DNSKEY and DS queries
 * included, is bounded by conf->timeout seconds per resolver.
 *
 * ACMEV_OK: *pkt (caller frees with ldns_pkt_free) holds the reply with
 * any rcode, *state is ACMEV_DNSSEC_SECURE or ACMEV_DNSSEC_INSECURE.
 * ACMEV_EFAILED: why says what went wrong: "DNSSEC validation failed
 * (bogus): " and libunbound's reason (RFC 4035 5.5: a bogus answer is never
 * used), a timeout, or no reply.  ACMEV_ENOMEM.
 */
int acmev_dnssec_query(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, ldns_pkt **pkt, int *state, char *why, size_t whylen);

/*
 * acmev_dnssec_anchor_check(): reads the trust anchor file at path (zone
 * file syntax, as unbound's trust-anchor-file and Debian's
 * /usr/share/dns/root.key: DS or DNSKEY records, $ORIGIN and $TTL lines,
 * comments) so that a bad file stops start-up or a reload instead of
 * failing every validation.  ACMEV_OK when every record parses and at
 * least one is a DS or DNSKEY; ACMEV_EINVAL with err ("path:line: reason")
 * otherwise; ACMEV_ENOMEM.
 */
int acmev_dnssec_anchor_check(const char *path, char *err, size_t errlen);

/* "secure", "insecure" or NULL (ACMEV_DNSSEC_OFF), for records and logs */
const char *acmev_dnssec_state_name(int state);


#endif /* ACMEV_DNSSEC_H */
