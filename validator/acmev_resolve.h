/*
 * Copyright (C) nginx-acme-server authors
 *
 * Address lookup through the configured resolvers (ldns; validated by
 * acmev_dnssec.c when a trust anchor is configured), and the
 * reserved-address rule (DESIGN.md "Validation": production refuses to
 * connect to private and reserved addresses).  Every ldns call of the
 * validator is in acmev_resolve.c and acmev_dnssec.c.
 */

#ifndef ACMEV_RESOLVE_H
#define ACMEV_RESOLVE_H

#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "acme/acme_problem.h"
#include "acmev_conf.h"


#define ACMEV_ADDRS_MAX       16

/* RR types asked for by the checks (the DNS type numbers) */
#define ACMEV_DNS_TXT         16
#define ACMEV_DNS_CAA         257

/* RFC 8555 8.4 and RFC 8659 3 follow aliases: at most this many */
#define ACMEV_DNS_CNAMES_MAX  8
#define ACMEV_DNS_RRS_MAX     64

/* a DNS name in text form, no trailing dot, plus NUL */
#define ACMEV_DNS_NAME_BUF    (ACME_DNS_NAME_MAX + 2)

/* what a lookup found (acmev_dns_answer_t.status) */
#define ACMEV_DNS_FOUND       0      /* one or more records of the type */
#define ACMEV_DNS_NODATA      1      /* the name exists, no such records */
#define ACMEV_DNS_NXDOMAIN    2      /* the (final) name does not exist */

typedef struct {
    int            family;                   /* AF_INET or AF_INET6 */
    unsigned char  addr[16];                 /* network order, 4 or 16 */
    char           text[INET6_ADDRSTRLEN];   /* canonical text form */
} acmev_addr_t;


/* one record's RDATA in uncompressed wire form (RFC 1035 3.3) */
typedef struct {
    size_t          len;
    unsigned char  *data;
} acmev_rdata_t;

typedef struct {
    int             status;                  /* ACMEV_DNS_FOUND ... */
    char            resolver[INET6_ADDRSTRLEN + 8];   /* "ip:port" */
    char            owner[ACMEV_DNS_NAME_BUF];    /* after the CNAMEs */
    char            cnames[ACMEV_DNS_CNAMES_MAX][ACMEV_DNS_NAME_BUF];
    size_t          ncnames;                 /* aliases followed, in order */
    acmev_rdata_t   rrs[ACMEV_DNS_RRS_MAX];
    size_t          nrrs;
    int             truncated;               /* more than RRS_MAX records */
    int             dnssec;                  /* ACMEV_DNSSEC_* (0: off) */
} acmev_dns_answer_t;


/*
 * acmev_dns_lookup(): the RRset of type (ACMEV_DNS_TXT, ACMEV_DNS_CAA) at
 * name through conf's resolvers, tried in order as for acmev_resolve(),
 * each query over UDP with EDNS and again over TCP when the answer is
 * truncated (RFC 7766 5).  A CNAME at the name is followed, in the same
 * answer or with a new query for its target, at most ACMEV_DNS_CNAMES_MAX
 * times (RFC 8555 8.4, RFC 8659 3): ans->owner is the name the RRset was
 * found at (or found missing at) and ans->cnames the aliases on the way.
 *
 * ans is caller-owned and filled in; its rdata is released with
 * acmev_dns_answer_clear(), also after a failure.  Returns ACMEV_OK with
 * ans->status FOUND, NODATA or NXDOMAIN; ACMEV_EFAILED with an ACME "dns"
 * problem in *prob (RFC 8555 6.7: SERVFAIL and other rcodes, no answer
 * from any resolver, a CNAME loop or too long a chain); or ACMEV_ENOMEM.
 */
int acmev_dns_lookup(const acmev_conf_t *conf, const char *name, int type,
    acmev_dns_answer_t *ans, acme_problem_t *prob);

/* frees the rdata of ans (which stays usable, with no records) */
void acmev_dns_answer_clear(acmev_dns_answer_t *ans);

/*
 * acmev_dns_answer_json(): where an answer came from, for a validation
 * record: {key: name, "resolver", "cnames": [the aliases followed],
 * "answerName": ans->owner, "dnssec": "secure" or "insecure" when
 * validation is on (RFC 4035 4.3)}.  key names the field for the name asked
 * ("hostname" for dns-01, RFC 8555 8.4; "name" for a CAA lookup).  A new
 * reference, NULL if memory ran out.
 */
json_t *acmev_dns_answer_json(const char *key, const char *name,
    const acmev_dns_answer_t *ans);

/*
 * acmev_dns_escape(): data (len bytes, from a TXT or CAA record) in a
 * printable form for a problem detail or a validation record: bytes
 * outside 0x20..0x7e, '"' and '\' as \DDD (RFC 1035 5.1).  Writes at most
 * size - 1 characters and a NUL into out (size >= 1); returns 1 when the
 * text was cut short, 0 otherwise.
 */
int acmev_dns_escape(const unsigned char *data, size_t len, char *out,
    size_t size);

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
 * acmev_addr_json(): the addresses' text forms as a JSON array, for
 * validation records; a new reference (json_pack's "o" takes it), NULL
 * if memory ran out.
 */
json_t *acmev_addr_json(const acmev_addr_t *addrs, size_t n);

/*
 * acmev_addr_reserved(): 1 for loopback, private, link-local, shared,
 * documentation, benchmarking, multicast and other special-purpose
 * addresses (RFC 6890 registries, IPv4-mapped IPv6 checked as IPv4), that
 * a CA must not connect to on behalf of a client; 0 otherwise.
 */
int acmev_addr_reserved(const acmev_addr_t *a);


#endif /* ACMEV_RESOLVE_H */
