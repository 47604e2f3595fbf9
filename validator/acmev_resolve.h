/*
 * Copyright (C) nginx-acme-server authors
 *
 * Address lookup through the configured resolvers (ldns), and the
 * reserved-address rule (DESIGN.md "Validation": production refuses to
 * connect to private and reserved addresses).  Every ldns call of the
 * validator is in acmev_resolve.c.
 */

#ifndef ACMEV_RESOLVE_H
#define ACMEV_RESOLVE_H

#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "acme/acme_problem.h"
#include "acmev_conf.h"


#define ACMEV_ADDRS_MAX  16

typedef struct {
    int            family;                   /* AF_INET or AF_INET6 */
    unsigned char  addr[16];                 /* network order, 4 or 16 */
    char           text[INET6_ADDRSTRLEN];   /* canonical text form */
} acmev_addr_t;


/*
 * acmev_resolve(): AAAA and A records of name (a DNS name, no trailing dot
 * needed) through conf's resolvers, tried in order; each query has
 * conf->timeout split over 2 tries and falls back to TCP on truncation.
 * CNAMEs are followed by the recursive resolver.  Fills addrs[0..*n-1]
 * (caller-owned, at most max), IPv6 first.  Reserved addresses are kept:
 * the caller applies acmev_addr_reserved() so that the validation record
 * shows what DNS answered.
 *
 * Returns ACMEV_OK with *n >= 1; ACMEV_EFAILED with an ACME "dns" problem
 * in *prob (RFC 8555 6.7) naming the name and what the resolver said:
 * NXDOMAIN, SERVFAIL and other rcodes, a timeout, or no address at all; or
 * ACMEV_ENOMEM.  One failed type is tolerated when the other has
 * addresses (a broken AAAA must not hide a good A).
 */
int acmev_resolve(const acmev_conf_t *conf, const char *name,
    acmev_addr_t *addrs, size_t max, size_t *n, acme_problem_t *prob);

/*
 * acmev_addr_parse(): an IP literal (IPv6 without brackets) into *a.
 * ACMEV_OK or ACMEV_EINVAL when text is not an address.
 */
int acmev_addr_parse(const char *text, acmev_addr_t *a);

/*
 * acmev_addr_reserved(): 1 for loopback, private, link-local, shared,
 * documentation, benchmarking, multicast and other special-purpose
 * addresses (RFC 6890 registries, IPv4-mapped IPv6 checked as IPv4), that
 * a CA must not connect to on behalf of a client; 0 otherwise.
 */
int acmev_addr_reserved(const acmev_addr_t *a);


#endif /* ACMEV_RESOLVE_H */
