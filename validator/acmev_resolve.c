/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_resolve.h"
#include "acmev_dnssec.h"


#define ACMEV_RESOLVE_WHY_MAX  512
#define ACMEV_EDNS_UDP_SIZE    1232      /* DNS flag day 2020 */


typedef struct {
    unsigned char  prefix[16];
    unsigned       bits;
} acmev_net_t;


static int acmev_resolve_type(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, acmev_addr_t *addrs, size_t max, size_t *n,
    int *nxdomain, char *why, size_t whylen);
static int acmev_dns_query(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, ldns_pkt **pkt, const acmev_ns_t **used,
    int *dnssec, char *why, size_t whylen);
static int acmev_dns_rdata_add(acmev_dns_answer_t *ans, const ldns_rr *rr);
static void acmev_dns_name_text(const ldns_rdf *dname, char *buf,
    size_t size);
static const char *acmev_dns_type_name(int type);
static ldns_resolver *acmev_resolver_new(const acmev_conf_t *conf,
    const acmev_ns_t *ns);
static int acmev_net_match(const unsigned char *addr,
    const acmev_net_t *nets, size_t nnets);


/* RFC 6890 and the IANA IPv4 special-purpose address registry */
static const acmev_net_t  acmev_reserved4[] = {
    { { 0 }, 8 },                        /* "this network" */
    { { 10 }, 8 },                       /* RFC 1918 */
    { { 100, 64 }, 10 },                 /* RFC 6598 shared */
    { { 127 }, 8 },                      /* loopback */
    { { 169, 254 }, 16 },                /* link local */
    { { 172, 16 }, 12 },                 /* RFC 1918 */
    { { 192, 0, 0 }, 24 },               /* IETF protocol assignments */
    { { 192, 0, 2 }, 24 },               /* TEST-NET-1 */
    { { 192, 88, 99 }, 24 },             /* 6to4 relay anycast */
    { { 192, 168 }, 16 },                /* RFC 1918 */
    { { 198, 18 }, 15 },                 /* benchmarking */
    { { 198, 51, 100 }, 24 },            /* TEST-NET-2 */
    { { 203, 0, 113 }, 24 },             /* TEST-NET-3 */
    { { 224 }, 4 },                      /* multicast */
    { { 240 }, 4 },                      /* reserved, broadcast */
};

/* inside 2000::/3 (global unicast); everything outside it is refused */
static const acmev_net_t  acmev_reserved6[] = {
    { { 0x20, 0x01, 0x00 }, 23 },        /* IETF protocol assignments */
    { { 0x20, 0x01, 0x0d, 0xb8 }, 32 },  /* documentation */
    { { 0x20, 0x02 }, 16 },              /* 6to4 */
    { { 0x3f, 0xff }, 20 },              /* documentation (RFC 9637) */
};

static const acmev_net_t  acmev_global6 = { { 0x20 }, 3 };


int
acmev_resolve(const acmev_conf_t *conf, const char *name,
    acmev_addr_t *addrs, size_t max, size_t *n, acme_problem_t *prob)
{
    int        rc, rc6, rc4, nx6, nx4;
    char       why6[ACMEV_RESOLVE_WHY_MAX], why4[ACMEV_RESOLVE_WHY_MAX];
    size_t     n6, n4;
    ldns_rdf  *dname;

    *n = 0;
    dname = NULL;
    nx6 = 0;
    nx4 = 0;
    rc = ACMEV_EFAILED;

    if (ldns_str2rdf_dname(&dname, name) != LDNS_STATUS_OK) {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: \"%.253s\" is "
                         "not a valid DNS name", name);
        goto failed;
    }

    /* RFC 8555 8.3 leaves the order to the CA: IPv6 first, as LE does */
    rc6 = acmev_resolve_type(conf, dname, LDNS_RR_TYPE_AAAA, addrs, max, &n6,
                             &nx6, why6, sizeof(why6));
    if (rc6 == ACMEV_ENOMEM) {
        rc = rc6;
        goto failed;
    }

    if (nx6) {
        /* NXDOMAIN holds for every type: no need to ask for A */
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: NXDOMAIN "
                         "looking up AAAA for %s - check that a DNS record "
                         "exists for this domain", name);
        goto failed;
    }

    rc4 = acmev_resolve_type(conf, dname, LDNS_RR_TYPE_A, addrs + n6,
                             max - n6, &n4, &nx4, why4, sizeof(why4));
    if (rc4 == ACMEV_ENOMEM) {
        rc = rc4;
        goto failed;
    }

    if (n6 + n4 > 0) {
        ldns_rdf_deep_free(dname);
        *n = n6 + n4;
        return ACMEV_OK;
    }

    if (nx4) {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: NXDOMAIN "
                         "looking up A for %s - check that a DNS record "
                         "exists for this domain", name);

    } else if (rc6 != ACMEV_OK && rc4 != ACMEV_OK) {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: %s looking up "
                         "AAAA for %s; %s looking up A", why6, name, why4);

    } else if (rc4 != ACMEV_OK) {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: %s looking up "
                         "A for %s; no AAAA records", why4, name);

    } else if (rc6 != ACMEV_OK) {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: %s looking up "
                         "AAAA for %s; no A records", why6, name);

    } else {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: no A or AAAA "
                         "records found for %s", name);
    }

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    ldns_rdf_deep_free(dname);

    return rc;
}


int
acmev_addr_parse(const char *text, acmev_addr_t *a)
{
    memset(a, 0, sizeof(acmev_addr_t));

    if (inet_pton(AF_INET, text, a->addr) == 1) {
        a->family = AF_INET;

    } else if (inet_pton(AF_INET6, text, a->addr) == 1) {
        a->family = AF_INET6;

    } else {
        return ACMEV_EINVAL;
    }

    inet_ntop(a->family, a->addr, a->text, sizeof(a->text));

    return ACMEV_OK;
}


int
acmev_addr_reserved(const acmev_addr_t *a)
{
    if (a->family == AF_INET) {
        return acmev_net_match(a->addr, acmev_reserved4,
                               sizeof(acmev_reserved4) / sizeof(acmev_net_t));
    }

    /*
     * Outside 2000::/3 lie ::1, ::, IPv4-mapped and -compatible addresses,
     * 64:ff9b::/96 (NAT64), fc00::/7, fe80::/10 and ff00::/8.
     */
    if (!acmev_net_match(a->addr, &acmev_global6, 1)) {
        return 1;
    }

    return acmev_net_match(a->addr, acmev_reserved6,
                           sizeof(acmev_reserved6) / sizeof(acmev_net_t));
}


/*
 * One record type, resolvers in order.  A network error, a timeout, or a
 * SERVFAIL/REFUSED moves on to the next resolver; NXDOMAIN and NOERROR are
 * final.  ACMEV_OK means NOERROR (possibly no records: *n == 0).
 */
static int
acmev_resolve_type(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, acmev_addr_t *addrs, size_t max, size_t *n,
    int *nxdomain, char *why, size_t whylen)
{
    int                rc, dnssec;
    size_t             k;
    ldns_rr           *rr;
    ldns_rdf          *rd;
    ldns_pkt          *pkt;
    acmev_addr_t      *a;
    ldns_rr_list      *rrs;
    const acmev_ns_t  *ns;

    *n = 0;
    *nxdomain = 0;
    pkt = NULL;

    rc = acmev_dns_query(conf, name, type, &pkt, &ns, &dnssec, why, whylen);
    if (rc != ACMEV_OK) {
        return rc;
    }

    if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
        snprintf(why, whylen, "NXDOMAIN");
        *nxdomain = 1;
        ldns_pkt_free(pkt);
        return ACMEV_EFAILED;
    }

    rrs = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);

    for (k = 0; rrs != NULL && k < ldns_rr_list_rr_count(rrs); k++) {
        if (*n == max) {
            break;
        }

        rr = ldns_rr_list_rr(rrs, k);
        rd = ldns_rr_rdf(rr, 0);
        a = &addrs[*n];

        if (rd == NULL
            || ldns_rdf_size(rd) != (type == LDNS_RR_TYPE_A ? 4 : 16))
        {
            continue;
        }

        memset(a, 0, sizeof(acmev_addr_t));
        a->family = (type == LDNS_RR_TYPE_A) ? AF_INET : AF_INET6;
        memcpy(a->addr, ldns_rdf_data(rd), ldns_rdf_size(rd));
        inet_ntop(a->family, a->addr, a->text, sizeof(a->text));
        (*n)++;
    }

    ldns_rr_list_deep_free(rrs);
    ldns_pkt_free(pkt);

    return ACMEV_OK;
}


int
acmev_dns_lookup(const acmev_conf_t *conf, const char *name, int type,
    acmev_dns_answer_t *ans, acme_problem_t *prob)
{
    int                rc, found, moved, dnssec;
    char               why[ACMEV_RESOLVE_WHY_MAX];
    size_t             i;
    ldns_rr           *rr;
    ldns_rdf          *cur, *next;
    ldns_pkt          *pkt;
    ldns_rr_list      *answer;
    ldns_pkt_rcode     rcode;
    const acmev_ns_t  *ns;

    memset(ans, 0, sizeof(acmev_dns_answer_t));
    snprintf(ans->owner, sizeof(ans->owner), "%.253s", name);
    cur = NULL;
    pkt = NULL;
    rc = ACMEV_EFAILED;

    if (ldns_str2rdf_dname(&cur, name) != LDNS_STATUS_OK
        || ldns_dname_label_count(cur) == 0)
    {
        acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: \"%.253s\" is "
                         "not a valid DNS name", name);
        goto failed;
    }

    for ( ;; ) {
        rc = acmev_dns_query(conf, cur, (ldns_rr_type) type, &pkt, &ns,
                             &dnssec, why, sizeof(why));
        if (rc == ACMEV_ENOMEM) {
            goto failed;
        }

        if (rc != ACMEV_OK) {
            /* RFC 8659 5.4: a failed lookup is never read as "no records" */
            acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: %s looking "
                             "up %s for %s", why, acmev_dns_type_name(type),
                             ans->owner);
            goto failed;
        }

        snprintf(ans->resolver, sizeof(ans->resolver),
                 ns->family == AF_INET6 ? "[%s]:%d" : "%s:%d", ns->addr,
                 (int) ns->port);

        /* an alias chain is only as secure as its least secure answer */
        if (ans->dnssec == ACMEV_DNSSEC_OFF || dnssec < ans->dnssec) {
            ans->dnssec = dnssec;
        }

        answer = ldns_pkt_answer(pkt);
        found = 0;
        moved = 0;

        /* the records at cur, or the alias to follow, in this answer */
        for ( ;; ) {
            next = NULL;

            for (i = 0; i < ldns_rr_list_rr_count(answer); i++) {
                rr = ldns_rr_list_rr(answer, i);

                if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN
                    || ldns_dname_compare(ldns_rr_owner(rr), cur) != 0)
                {
                    continue;
                }

                if (ldns_rr_get_type(rr) == (ldns_rr_type) type) {
                    rc = acmev_dns_rdata_add(ans, rr);
                    if (rc != ACMEV_OK) {
                        goto failed;
                    }

                    found = 1;

                } else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME
                           && next == NULL && ldns_rr_rd_count(rr) == 1)
                {
                    next = ldns_rr_rdf(rr, 0);
                }
            }

            if (found || next == NULL) {
                break;
            }

            /* a loop ends here too */
            if (ans->ncnames == ACMEV_DNS_CNAMES_MAX) {
                acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: more "
                                 "than %d CNAME records from %.253s (a "
                                 "loop?) looking up %s", ACMEV_DNS_CNAMES_MAX,
                                 name, acmev_dns_type_name(type));
                rc = ACMEV_EFAILED;
                goto failed;
            }

            acmev_dns_name_text(next, ans->cnames[ans->ncnames],
                                ACMEV_DNS_NAME_BUF);
            ans->ncnames++;

            ldns_rdf_deep_free(cur);
            cur = ldns_rdf_clone(next);
            if (cur == NULL) {
                rc = ACMEV_ENOMEM;
                goto failed;
            }

            acmev_dns_name_text(cur, ans->owner, sizeof(ans->owner));
            moved = 1;
        }

        rcode = ldns_pkt_get_rcode(pkt);
        ldns_pkt_free(pkt);
        pkt = NULL;

        if (found) {
            ans->status = ACMEV_DNS_FOUND;
            break;
        }

        /* RFC 6604 2.1: the rcode is that of the last name of the chain */
        if (rcode == LDNS_RCODE_NXDOMAIN) {
            ans->status = ACMEV_DNS_NXDOMAIN;
            break;
        }

        if (!moved) {
            ans->status = ACMEV_DNS_NODATA;
            break;
        }

        /* the alias leaves the server's data: ask for its target */
    }

    ldns_rdf_deep_free(cur);

    return ACMEV_OK;

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    ldns_pkt_free(pkt);
    ldns_rdf_deep_free(cur);

    return rc;
}


void
acmev_dns_answer_clear(acmev_dns_answer_t *ans)
{
    size_t  i;

    for (i = 0; i < ans->nrrs; i++) {
        free(ans->rrs[i].data);
        ans->rrs[i].data = NULL;
    }

    ans->nrrs = 0;
}


int
acmev_dns_escape(const unsigned char *data, size_t len, char *out,
    size_t size)
{
    size_t         i, o;
    unsigned char  c;

    o = 0;

    for (i = 0; i < len; i++) {
        c = data[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            if (o + 1 >= size) {
                break;
            }

            out[o++] = (char) c;

        } else {
            if (o + 4 >= size) {
                break;
            }

            snprintf(out + o, size - o, "\\%03u", (unsigned) c);
            o += 4;
        }
    }

    out[o] = '\0';

    return i < len;
}


/*
 * One question, resolvers in order.  A network error, a timeout, or a
 * SERVFAIL/REFUSED (any rcode but NOERROR and NXDOMAIN) moves on to the
 * next resolver.  ACMEV_OK: *pkt (caller frees) holds a NOERROR or
 * NXDOMAIN answer from *used.  ACMEV_EFAILED: no resolver answered so,
 * why says what the last one did.
 */
static int
acmev_dns_query(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, ldns_pkt **pkt, const acmev_ns_t **used, int *dnssec,
    char *why, size_t whylen)
{
    size_t               i;
    ldns_status          st;
    ldns_resolver       *res;
    ldns_pkt_rcode       rcode;
    ldns_lookup_table   *lt;
    const acmev_ns_t    *ns;

    *pkt = NULL;
    *used = NULL;
    *dnssec = ACMEV_DNSSEC_OFF;
    snprintf(why, whylen, "no resolver answered");

    if (conf->dnssec_trust_anchor != NULL && conf->nresolvers > 0) {
        return acmev_dnssec_query(conf, name, type, pkt, used, dnssec, why,
                                  whylen);
    }

    for (i = 0; i < conf->nresolvers; i++) {
        ns = &conf->resolvers[i];

        res = acmev_resolver_new(conf, ns);
        if (res == NULL) {
            return ACMEV_ENOMEM;
        }

        *pkt = NULL;
        st = ldns_resolver_query_status(pkt, res, name, type,
                                        LDNS_RR_CLASS_IN, LDNS_RD);
        ldns_resolver_deep_free(res);

        if (st != LDNS_STATUS_OK || *pkt == NULL) {
            ldns_pkt_free(*pkt);
            *pkt = NULL;

            if (st == LDNS_STATUS_MEM_ERR) {
                return ACMEV_ENOMEM;
            }

            /* the resolver's address is ours, not for the client */
            acmev_log(LOG_INFO, "resolver %s port %d: %s",
                      ns->addr, (int) ns->port, ldns_get_errorstr_by_id(st));

            snprintf(why, whylen, "%s",
                     (st == LDNS_STATUS_NETWORK_ERR
                      || st == LDNS_STATUS_ERR)
                     ? "query timed out"
                     : ldns_get_errorstr_by_id(st));
            continue;
        }

        rcode = ldns_pkt_get_rcode(*pkt);

        if (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN) {
            *used = ns;
            return ACMEV_OK;
        }

        lt = ldns_lookup_by_id(ldns_rcodes, rcode);
        snprintf(why, whylen, "%s", lt ? lt->name : "bad rcode");

        acmev_log(LOG_INFO, "resolver %s port %d: %s", ns->addr,
                  (int) ns->port, why);

        ldns_pkt_free(*pkt);
        *pkt = NULL;
    }

    return ACMEV_EFAILED;
}


/* appends the uncompressed wire RDATA of rr: its rdfs in order */
static int
acmev_dns_rdata_add(acmev_dns_answer_t *ans, const ldns_rr *rr)
{
    size_t          i, len;
    ldns_rdf       *rd;
    unsigned char  *p;

    if (ans->nrrs == ACMEV_DNS_RRS_MAX) {
        ans->truncated = 1;
        return ACMEV_OK;
    }

    len = 0;

    for (i = 0; i < ldns_rr_rd_count(rr); i++) {
        len += ldns_rdf_size(ldns_rr_rdf(rr, i));
    }

    p = malloc(len + 1);
    if (p == NULL) {
        return ACMEV_ENOMEM;
    }

    ans->rrs[ans->nrrs].data = p;
    ans->rrs[ans->nrrs].len = len;
    ans->nrrs++;

    for (i = 0; i < ldns_rr_rd_count(rr); i++) {
        rd = ldns_rr_rdf(rr, i);
        memcpy(p, ldns_rdf_data(rd), ldns_rdf_size(rd));
        p += ldns_rdf_size(rd);
    }

    return ACMEV_OK;
}


/* presentation form without the final dot; "?" when ldns cannot say */
static void
acmev_dns_name_text(const ldns_rdf *dname, char *buf, size_t size)
{
    char    *s;
    size_t   n;

    s = ldns_rdf2str(dname);
    if (s == NULL) {
        snprintf(buf, size, "?");
        return;
    }

    n = strlen(s);
    if (n > 1 && s[n - 1] == '.') {
        s[n - 1] = '\0';
    }

    snprintf(buf, size, "%s", s);
    free(s);
}


static const char *
acmev_dns_type_name(int type)
{
    switch (type) {

    case ACMEV_DNS_TXT:
        return "TXT";

    case ACMEV_DNS_CAA:
        return "CAA";

    default:
        return "records";
    }
}


static ldns_resolver *
acmev_resolver_new(const acmev_conf_t *conf, const acmev_ns_t *ns)
{
    int              t;
    ldns_rdf        *addr;
    ldns_status      st;
    ldns_resolver   *res;
    struct timeval   tv;

    addr = NULL;

    /* ldns has one port per resolver object: one object per server */
    res = ldns_resolver_new();
    if (res == NULL) {
        goto failed;
    }

    addr = ldns_rdf_new_frm_str(ns->family == AF_INET6 ? LDNS_RDF_TYPE_AAAA
                                                       : LDNS_RDF_TYPE_A,
                                ns->addr);
    if (addr == NULL) {
        goto failed;
    }

    st = ldns_resolver_push_nameserver(res, addr);
    if (st != LDNS_STATUS_OK) {
        goto failed;
    }

    ldns_rdf_deep_free(addr);
    addr = NULL;

    /* two tries share the step's time, with no pause between them */
    t = (conf->timeout + 1) / 2;
    tv.tv_sec = t;
    tv.tv_usec = 0;

    ldns_resolver_set_port(res, ns->port);
    ldns_resolver_set_recursive(res, true);
    ldns_resolver_set_retry(res, 2);
    ldns_resolver_set_retrans(res, 0);
    ldns_resolver_set_timeout(res, tv);
    ldns_resolver_set_fallback(res, true);      /* TC -> TCP */
    ldns_resolver_set_edns_udp_size(res, ACMEV_EDNS_UDP_SIZE);
    ldns_resolver_set_random(res, false);

    return res;

failed:

    ldns_rdf_deep_free(addr);
    ldns_resolver_deep_free(res);

    return NULL;
}


static int
acmev_net_match(const unsigned char *addr, const acmev_net_t *nets,
    size_t nnets)
{
    size_t         i;
    unsigned       full, rest;
    unsigned char  mask;

    for (i = 0; i < nnets; i++) {
        full = nets[i].bits / 8;
        rest = nets[i].bits % 8;

        if (memcmp(addr, nets[i].prefix, full) != 0) {
            continue;
        }

        if (rest == 0) {
            return 1;
        }

        mask = (unsigned char) (0xff << (8 - rest));

        if ((addr[full] & mask) == (nets[i].prefix[full] & mask)) {
            return 1;
        }
    }

    return 0;
}


json_t *
acmev_dns_answer_json(const char *key, const char *name,
    const acmev_dns_answer_t *ans)
{
    size_t       i;
    json_t      *cnames, *rec;
    const char  *state;

    cnames = json_array();

    for (i = 0; cnames && i < ans->ncnames; i++) {
        if (json_array_append_new(cnames, json_string(ans->cnames[i])) != 0)
        {
            json_decref(cnames);
            return NULL;
        }
    }

    if (cnames == NULL) {
        return NULL;
    }

    /* "o" takes the reference to cnames, also when packing fails */
    rec = json_pack("{s:s, s:s, s:o, s:s}", key, name,
                    "resolver", ans->resolver, "cnames", cnames,
                    "answerName", ans->owner);

    state = acmev_dnssec_state_name(ans->dnssec);

    if (rec != NULL && state != NULL
        && json_object_set_new(rec, "dnssec", json_string(state)) != 0)
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}


json_t *
acmev_addr_json(const acmev_addr_t *addrs, size_t n)
{
    size_t   i;
    json_t  *list;

    list = json_array();

    for (i = 0; list && i < n; i++) {
        if (json_array_append_new(list, json_string(addrs[i].text)) != 0) {
            json_decref(list);
            return NULL;
        }
    }

    return list;
}
