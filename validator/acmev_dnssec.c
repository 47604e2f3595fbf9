/*
 * Copyright (C) nginx-acme-server authors
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <unbound.h>
#include <ldns/ldns.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_metrics.h"
#include "acmev_dnssec.h"


#define ACMEV_DNSSEC_WHY_MAX  512

static pthread_once_t  acmev_dnssec_once = PTHREAD_ONCE_INIT;
static pthread_key_t   acmev_dnssec_key;

/* RFC 8624 3.1 and 3.3: what libunbound (OpenSSL 3) validates */
static const int  acmev_dnssec_algs[] = { 5, 7, 8, 10, 13, 14, 15, 16 };
static const int  acmev_dnssec_digests[] = { 1, 2, 4 };


/*
 * Each worker thread keeps one libunbound context per resolver for the
 * configuration it was made for (conf->serial): making one costs more
 * than the lookup.  It caches nothing that outlives a lookup
 * (cache-max-ttl 0), so that a record published a moment ago is seen;
 * one that failed a lookup is dropped.
 */
typedef struct {
    unsigned long      serial;
    struct ub_ctx     *ctx[ACMEV_RESOLVERS_MAX];
} acmev_dnssec_tls_t;


typedef struct {
    int                done;
    int                err;          /* libunbound error code */
    struct ub_result  *result;
} acmev_dnssec_job_t;


static int acmev_dnssec_ask(const acmev_conf_t *conf, size_t i,
    const char *qname, ldns_rr_type type, ldns_pkt **pkt, int *state,
    int *bogus, char *why, size_t whylen);
static struct ub_ctx *acmev_dnssec_ctx(const acmev_conf_t *conf,
    const acmev_ns_t *ns, char *why, size_t whylen);
static struct ub_ctx *acmev_dnssec_ctx_get(const acmev_conf_t *conf,
    size_t i, char *why, size_t whylen);
static void acmev_dnssec_ctx_drop(size_t i);
static void acmev_dnssec_key_init(void);
static void acmev_dnssec_tls_free(void *arg);
static int acmev_dnssec_anchor_ok(const ldns_rr *rr, const char *path,
    char *err, size_t errlen);
static int acmev_dnssec_in(int v, const int *set, size_t n);
static void acmev_dnssec_done(void *arg, int err, struct ub_result *result);
static long long acmev_dnssec_now_ms(void);


int
acmev_dnssec_query(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, ldns_pkt **pkt, const acmev_ns_t **used, int *state,
    char *why, size_t whylen)
{
    int                rc, bogus;
    char              *qname;
    char               bogus_why[ACMEV_DNSSEC_WHY_MAX];
    size_t             i;
    const acmev_ns_t  *ns;

    *pkt = NULL;
    *used = NULL;
    *state = ACMEV_DNSSEC_OFF;
    bogus_why[0] = '\0';
    rc = ACMEV_EFAILED;
    snprintf(why, whylen, "no resolver answered");

    qname = ldns_rdf2str(name);
    if (qname == NULL) {
        return ACMEV_ENOMEM;
    }

    /* in order, as without validation (acmev_resolve.h) */
    for (i = 0; i < conf->nresolvers; i++) {
        ns = &conf->resolvers[i];
        bogus = 0;

        rc = acmev_dnssec_ask(conf, i, qname, type, pkt, state, &bogus, why,
                              whylen);
        if (rc == ACMEV_OK) {
            *used = ns;
            break;
        }

        if (rc == ACMEV_ENOMEM) {
            break;
        }

        /* the resolver's address is ours, not for the client */
        acmev_log(LOG_INFO, "resolver %s port %d: %s type %d: %s", ns->addr,
                  (int) ns->port, qname, (int) type, why);

        if (bogus && bogus_why[0] == '\0') {
            snprintf(bogus_why, sizeof(bogus_why), "%s", why);
        }
    }

    /* a bogus answer says more than a later resolver's silence */
    if (rc == ACMEV_EFAILED && bogus_why[0] != '\0') {
        snprintf(why, whylen, "%s", bogus_why);
    }

    free(qname);

    return rc;
}


int
acmev_dnssec_anchor_load(acmev_conf_t *conf, char *err, size_t errlen)
{
    int                 rc, line, uerr;
    char               *buf, *text, *p, **ta;
    FILE               *f;
    size_t              i, len, n, skip;
    ldns_zone          *zone;
    ldns_status         st;
    ldns_rr_list       *rrs;
    struct ub_ctx      *ctx;
    struct ub_result   *res;
    const char         *path;

    path = conf->dnssec_trust_anchor;
    if (path == NULL) {
        return ACMEV_OK;
    }

    if (conf->nresolvers == 0) {
        snprintf(err, errlen, "no resolver to validate through");
        return ACMEV_EINVAL;
    }

    /* daemon() changes to "/" and SIGHUP reads it again */
    if (path[0] != '/') {
        snprintf(err, errlen, "dnssec_trust_anchor \"%.200s\" must be an "
                 "absolute path", path);
        return ACMEV_EINVAL;
    }

    buf = NULL;
    zone = NULL;
    ta = NULL;
    n = 0;
    ctx = NULL;

    rc = acmev_conf_file_read(path, ACMEV_DNSSEC_ANCHOR_FILE_MAX, &buf, &len,
                              err, errlen);
    if (rc != ACMEV_OK) {
        return rc;
    }

    /* an editor's UTF-8 byte order mark is not part of the first name */
    skip = (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) ? 3 : 0;

    f = fmemopen(buf + skip, len - skip, "r");
    if (f == NULL) {
        rc = ACMEV_ENOMEM;
        goto nomem;
    }

    /* the zone file parser: $ORIGIN, $TTL, parentheses, comments */
    line = 1;
    st = ldns_zone_new_frm_fp_l(&zone, f, NULL, 3600, LDNS_RR_CLASS_IN,
                                &line);
    fclose(f);

    if (st == LDNS_STATUS_MEM_ERR) {
        rc = ACMEV_ENOMEM;
        goto nomem;
    }

    if (st != LDNS_STATUS_OK) {
        /* ldns has counted the newline of the bad line already */
        snprintf(err, errlen, "%s:%d: %s", path, line > 1 ? line - 1 : 1,
                 ldns_get_errorstr_by_id(st));
        rc = ACMEV_EINVAL;
        goto failed;
    }

    rrs = ldns_zone_rrs(zone);
    len = rrs ? ldns_rr_list_rr_count(rrs) : 0;

    /* a SOA line is not an anchor either */
    if (ldns_zone_soa(zone) != NULL) {
        snprintf(err, errlen, "%s: a SOA record: only DS and DNSKEY records "
                 "are trust anchors", path);
        rc = ACMEV_EINVAL;
        goto failed;
    }

    if (len == 0) {
        snprintf(err, errlen, "%s: no DS or DNSKEY record", path);
        rc = ACMEV_EINVAL;
        goto failed;
    }

    ta = calloc(len, sizeof(char *));
    if (ta == NULL) {
        rc = ACMEV_ENOMEM;
        goto nomem;
    }

    for (i = 0; i < len; i++) {
        rc = acmev_dnssec_anchor_ok(ldns_rr_list_rr(rrs, i), path, err,
                                    errlen);
        if (rc != ACMEV_OK) {
            goto failed;
        }

        text = ldns_rr2str(ldns_rr_list_rr(rrs, i));
        if (text == NULL) {
            rc = ACMEV_ENOMEM;
            goto nomem;
        }

        p = strchr(text, '\n');
        if (p != NULL) {
            *p = '\0';
        }

        ta[n++] = text;
    }

    /*
     * libunbound parses anchors (and options) when a context is first
     * used: the context the checks will use, asked for a name it answers
     * itself (no query is sent), says now what it would otherwise say on
     * every check
     */
    for (i = 0; i < conf->ndnssec_ta; i++) {
        free(conf->dnssec_ta[i]);
    }

    free(conf->dnssec_ta);
    conf->dnssec_ta = ta;
    conf->ndnssec_ta = n;

    res = NULL;
    ctx = acmev_dnssec_ctx(conf, &conf->resolvers[0], err, errlen);
    uerr = (ctx == NULL) ? UB_INITFAIL
                         : ub_resolve(ctx, "localhost.", LDNS_RR_TYPE_A,
                                      LDNS_RR_CLASS_IN, &res);

    if (res != NULL) {
        ub_resolve_free(res);
    }

    if (uerr != 0) {
        conf->dnssec_ta = NULL;
        conf->ndnssec_ta = 0;
        snprintf(err, errlen, "%s: libunbound refused the anchors: %s", path,
                 ub_strerror(uerr));
        rc = ACMEV_EINVAL;
        goto failed;
    }

    ub_ctx_delete(ctx);
    ldns_zone_deep_free(zone);
    free(buf);

    return ACMEV_OK;

nomem:

    snprintf(err, errlen, "out of memory");

failed:

    if (ctx != NULL) {
        ub_ctx_delete(ctx);
    }

    for (i = 0; i < n; i++) {
        free(ta[i]);
    }

    free(ta);

    if (zone != NULL) {
        ldns_zone_deep_free(zone);
    }

    free(buf);

    return rc;
}


const char *
acmev_dnssec_state_name(int state)
{
    switch (state) {

    case ACMEV_DNSSEC_SECURE:
        return "secure";

    case ACMEV_DNSSEC_INSECURE:
        return "insecure";

    default:
        return NULL;
    }
}


/*
 * One question through one resolver, bounded by conf->timeout seconds.
 * ACMEV_OK with a NOERROR or NXDOMAIN reply; ACMEV_EFAILED with why (and
 * *bogus = 1 when validation failed); ACMEV_ENOMEM.
 */
static int
acmev_dnssec_ask(const acmev_conf_t *conf, size_t i, const char *qname,
    ldns_rr_type type, ldns_pkt **pkt, int *state, int *bogus, char *why,
    size_t whylen)
{
    int                  rc, id, err, n;
    long long            deadline, left;
    ldns_status          st;
    struct ub_ctx       *ctx;
    struct pollfd        pfd;
    struct ub_result    *res;
    ldns_pkt_rcode       rcode;
    ldns_lookup_table   *lt;
    acmev_dnssec_job_t   job;

    *pkt = NULL;
    memset(&job, 0, sizeof(job));
    rc = ACMEV_EFAILED;

    ctx = acmev_dnssec_ctx_get(conf, i, why, whylen);
    if (ctx == NULL) {
        return ACMEV_EFAILED;
    }

    err = ub_resolve_async(ctx, qname, (int) type, LDNS_RR_CLASS_IN, &job,
                           acmev_dnssec_done, &id);
    if (err != 0) {
        snprintf(why, whylen, "DNSSEC resolver: %s", ub_strerror(err));
        rc = (err == UB_NOMEM) ? ACMEV_ENOMEM : ACMEV_EFAILED;
        goto done;
    }

    deadline = acmev_dnssec_now_ms() + (long long) conf->timeout * 1000;

    while (!job.done) {
        left = deadline - acmev_dnssec_now_ms();
        if (left <= 0) {
            ub_cancel(ctx, id);
            snprintf(why, whylen, "query timed out");
            goto done;
        }

        pfd.fd = ub_fd(ctx);
        pfd.events = POLLIN;
        pfd.revents = 0;

        n = poll(&pfd, 1, (int) (left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR) {
            snprintf(why, whylen, "DNSSEC resolver: poll: %s",
                     strerror(errno));
            ub_cancel(ctx, id);
            goto done;
        }

        if (n > 0) {
            err = ub_process(ctx);
            if (err != 0) {
                snprintf(why, whylen, "DNSSEC resolver: %s",
                         ub_strerror(err));
                goto done;
            }
        }
    }

    res = job.result;

    if (job.err != 0 || res == NULL) {
        snprintf(why, whylen, "DNSSEC resolver: %s",
                 ub_strerror(job.err ? job.err : UB_NOMEM));
        rc = (job.err == 0 || job.err == UB_NOMEM) ? ACMEV_ENOMEM
                                                   : ACMEV_EFAILED;
        goto done;
    }

    /* RFC 4035 5.5: bogus data is never passed on */
    if (res->bogus) {
        snprintf(why, whylen, "DNSSEC validation failed (bogus): %s",
                 res->why_bogus ? res->why_bogus : "no reason given");
        *bogus = 1;
        acmev_metrics_error(ACMEV_METRICS_ERR_DNSSEC);
        goto done;
    }

    if (res->answer_packet == NULL || res->answer_len <= 0) {
        snprintf(why, whylen, "%s", res->rcode == LDNS_RCODE_SERVFAIL
                                    ? "SERVFAIL" : "no reply");
        goto done;
    }

    st = ldns_wire2pkt(pkt, res->answer_packet, (size_t) res->answer_len);
    if (st != LDNS_STATUS_OK) {
        *pkt = NULL;
        rc = (st == LDNS_STATUS_MEM_ERR) ? ACMEV_ENOMEM : ACMEV_EFAILED;
        snprintf(why, whylen, "malformed reply: %s",
                 ldns_get_errorstr_by_id(st));
        goto done;
    }

    /* a resolver that times out or refuses reaches us as SERVFAIL */
    rcode = ldns_pkt_get_rcode(*pkt);

    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        lt = ldns_lookup_by_id(ldns_rcodes, rcode);
        snprintf(why, whylen, "%s", lt ? lt->name : "bad rcode");
        ldns_pkt_free(*pkt);
        *pkt = NULL;
        goto done;
    }

    *state = res->secure ? ACMEV_DNSSEC_SECURE : ACMEV_DNSSEC_INSECURE;
    rc = ACMEV_OK;

done:

    if (job.result != NULL) {
        ub_resolve_free(job.result);
    }

    /* a timeout or a failure may leave state behind: start afresh */
    if (rc != ACMEV_OK) {
        acmev_dnssec_ctx_drop(i);
    }

    return rc;
}


/* the calling thread's context for conf's resolver i (made if needed) */
static struct ub_ctx *
acmev_dnssec_ctx_get(const acmev_conf_t *conf, size_t i, char *why,
    size_t whylen)
{
    size_t               k;
    acmev_dnssec_tls_t  *tls;

    pthread_once(&acmev_dnssec_once, acmev_dnssec_key_init);

    tls = pthread_getspecific(acmev_dnssec_key);

    if (tls == NULL) {
        tls = calloc(1, sizeof(acmev_dnssec_tls_t));
        if (tls == NULL || pthread_setspecific(acmev_dnssec_key, tls) != 0)
        {
            free(tls);
            snprintf(why, whylen, "DNSSEC resolver: out of memory");
            return NULL;
        }
    }

    /* a reload: the resolvers, anchors or timeout may have changed */
    if (tls->serial != conf->serial) {
        for (k = 0; k < ACMEV_RESOLVERS_MAX; k++) {
            acmev_dnssec_ctx_drop(k);
        }

        tls->serial = conf->serial;
    }

    if (tls->ctx[i] == NULL) {
        tls->ctx[i] = acmev_dnssec_ctx(conf, &conf->resolvers[i], why,
                                       whylen);
    }

    return tls->ctx[i];
}


static void
acmev_dnssec_ctx_drop(size_t i)
{
    acmev_dnssec_tls_t  *tls;

    tls = pthread_getspecific(acmev_dnssec_key);

    if (tls != NULL && tls->ctx[i] != NULL) {
        ub_ctx_delete(tls->ctx[i]);
        tls->ctx[i] = NULL;
    }
}


static void
acmev_dnssec_key_init(void)
{
    (void) pthread_key_create(&acmev_dnssec_key, acmev_dnssec_tls_free);
}


/* at the exit of a worker thread */
static void
acmev_dnssec_tls_free(void *arg)
{
    size_t               k;
    acmev_dnssec_tls_t  *tls = arg;

    for (k = 0; k < ACMEV_RESOLVERS_MAX; k++) {
        if (tls->ctx[k] != NULL) {
            ub_ctx_delete(tls->ctx[k]);
        }
    }

    free(tls);
}


/* a validating forwarder to ns with its own thread, nothing read from /etc */
static struct ub_ctx *
acmev_dnssec_ctx(const acmev_conf_t *conf, const acmev_ns_t *ns, char *why,
    size_t whylen)
{
    int             err;
    char            fwd[INET6_ADDRSTRLEN + 8], ms[16];
    size_t          i;
    struct ub_ctx  *ctx;

    ctx = ub_ctx_create();
    if (ctx == NULL) {
        snprintf(why, whylen, "DNSSEC resolver: out of memory");
        return NULL;
    }

    err = ub_ctx_async(ctx, 1);

    /* the resolvers are the operator's choice, loopback included */
    if (err == 0) {
        err = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
    }

    /*
     * the context outlives a lookup: nothing it learnt may answer the
     * next one (a TXT record published since, a CAA record removed), so
     * every record, negative answers and NSEC ranges included, expires at
     * once
     */
    if (err == 0) {
        err = ub_ctx_set_option(ctx, "cache-max-ttl:", "0");
    }

    if (err == 0) {
        err = ub_ctx_set_option(ctx, "cache-max-negative-ttl:", "0");
    }

    if (err == 0) {
        err = ub_ctx_set_option(ctx, "aggressive-nsec:", "no");
    }

    if (err == 0) {
        err = ub_ctx_set_option(ctx, "prefetch:", "no");
    }

    /*
     * A server unknown to this (new) context gets 376 ms before libunbound
     * sends the question again; half the step's time suits a slow link
     * better, as the unvalidated path gives each of its two tries
     */
    if (err == 0) {
        snprintf(ms, sizeof(ms), "%d", conf->timeout * 500);
        err = ub_ctx_set_option(ctx, "unknown-server-time-limit:", ms);
    }

    /*
     * libunbound answers names under "test." (RFC 6761 6.2) and
     * "home.arpa." (RFC 8375) itself; the unvalidated path asks the
     * resolvers, and lab and device zones live there, so validation asks
     * them too.  localhost, invalid and onion stay local: no CA validates
     * them.
     */
    if (err == 0) {
        err = ub_ctx_set_option(ctx, "local-zone:", "test. transparent");
    }

    if (err == 0) {
        err = ub_ctx_set_option(ctx, "local-zone:", "home.arpa. transparent");
    }

    if (err == 0) {
        snprintf(fwd, sizeof(fwd), "%s@%d", ns->addr, (int) ns->port);
        err = ub_ctx_set_fwd(ctx, fwd);
    }

    for (i = 0; err == 0 && i < conf->ndnssec_ta; i++) {
        err = ub_ctx_add_ta(ctx, conf->dnssec_ta[i]);
    }

    if (err != 0) {
        snprintf(why, whylen, "DNSSEC resolver: %s", ub_strerror(err));
        ub_ctx_delete(ctx);
        return NULL;
    }

    return ctx;
}


/* a DS or DNSKEY of class IN that libunbound will use, not ignore */
static int
acmev_dnssec_anchor_ok(const ldns_rr *rr, const char *path, char *err,
    size_t errlen)
{
    int            alg, digest;
    char          *owner;
    size_t         dlen;
    const char    *what;
    ldns_rr_type   t;

    t = ldns_rr_get_type(rr);
    alg = -1;
    digest = -1;
    dlen = 0;
    what = NULL;

    owner = ldns_rdf2str(ldns_rr_owner(rr));
    if (owner == NULL) {
        snprintf(err, errlen, "out of memory");
        return ACMEV_ENOMEM;
    }

    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
        what = "is not of class IN";

    } else if (t == LDNS_RR_TYPE_DS && ldns_rr_rd_count(rr) == 4) {
        alg = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
        digest = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
        dlen = ldns_rdf_size(ldns_rr_rdf(rr, 3));

    } else if (t == LDNS_RR_TYPE_DNSKEY && ldns_rr_rd_count(rr) == 4) {
        alg = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));

    } else {
        what = "is not a DS or DNSKEY record";
    }

    if (what == NULL && !acmev_dnssec_in(alg, acmev_dnssec_algs,
                                         sizeof(acmev_dnssec_algs)
                                         / sizeof(int)))
    {
        what = "has an algorithm that is not validated (RFC 8624 3.1)";
    }

    if (what == NULL && t == LDNS_RR_TYPE_DS
        && !acmev_dnssec_in(digest, acmev_dnssec_digests,
                            sizeof(acmev_dnssec_digests) / sizeof(int)))
    {
        what = "has a digest type that is not validated (RFC 8624 3.3)";
    }

    /* RFC 4034 5.1.4, RFC 4509 2.2, RFC 6605 2: 20, 32, 48 bytes */
    if (what == NULL && t == LDNS_RR_TYPE_DS
        && dlen != (digest == 1 ? 20 : digest == 2 ? 32 : 48))
    {
        what = "has a digest whose length does not fit its type";
    }

    if (what != NULL) {
        snprintf(err, errlen, "%s: the record for \"%s\" %s", path, owner,
                 what);
        free(owner);
        return ACMEV_EINVAL;
    }

    free(owner);

    return ACMEV_OK;
}


static int
acmev_dnssec_in(int v, const int *set, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (set[i] == v) {
            return 1;
        }
    }

    return 0;
}


static void
acmev_dnssec_done(void *arg, int err, struct ub_result *result)
{
    acmev_dnssec_job_t  *job = arg;

    job->done = 1;
    job->err = err;
    job->result = result;
}


static long long
acmev_dnssec_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
