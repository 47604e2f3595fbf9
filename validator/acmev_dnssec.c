/*
 * Copyright (C) nginx-acme-server authors
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <ldns/ldns.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_dnssec.h"


typedef struct {
    int                done;
    int                err;          /* libunbound error code */
    struct ub_result  *result;
} acmev_dnssec_job_t;


static struct ub_ctx *acmev_dnssec_ctx(const acmev_conf_t *conf, char *why,
    size_t whylen);
static void acmev_dnssec_done(void *arg, int err, struct ub_result *result);
static long long acmev_dnssec_now_ms(void);


int
acmev_dnssec_query(const acmev_conf_t *conf, const ldns_rdf *name,
    ldns_rr_type type, ldns_pkt **pkt, int *state, char *why, size_t whylen)
{
    int                  rc, id, err, n;
    char                *qname;
    long long            deadline, left;
    ldns_status          st;
    struct ub_ctx       *ctx;
    struct pollfd        pfd;
    struct ub_result    *res;
    acmev_dnssec_job_t   job;

    *pkt = NULL;
    *state = ACMEV_DNSSEC_OFF;
    memset(&job, 0, sizeof(job));
    ctx = NULL;
    rc = ACMEV_EFAILED;

    qname = ldns_rdf2str(name);
    if (qname == NULL) {
        return ACMEV_ENOMEM;
    }

    ctx = acmev_dnssec_ctx(conf, why, whylen);
    if (ctx == NULL) {
        goto done;
    }

    /* a new context per question: no answer cached from an earlier try */
    err = ub_resolve_async(ctx, qname, (int) type, LDNS_RR_CLASS_IN, &job,
                           acmev_dnssec_done, &id);
    if (err != 0) {
        snprintf(why, whylen, "DNSSEC resolver: %s", ub_strerror(err));
        goto done;
    }

    deadline = acmev_dnssec_now_ms()
               + (long long) conf->timeout * 1000
                 * (long long) (conf->nresolvers ? conf->nresolvers : 1);

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
        rc = (job.err == UB_NOMEM) ? ACMEV_ENOMEM : ACMEV_EFAILED;
        goto done;
    }

    /* RFC 4035 5.5: bogus data is never passed on */
    if (res->bogus) {
        snprintf(why, whylen, "DNSSEC validation failed (bogus): %s",
                 res->why_bogus ? res->why_bogus : "no reason given");
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

    *state = res->secure ? ACMEV_DNSSEC_SECURE : ACMEV_DNSSEC_INSECURE;
    rc = ACMEV_OK;

done:

    if (job.result != NULL) {
        ub_resolve_free(job.result);
    }

    if (ctx != NULL) {
        ub_ctx_delete(ctx);
    }

    if (rc != ACMEV_OK) {
        acmev_log(LOG_INFO, "DNSSEC lookup of %s type %d: %s", qname,
                  (int) type, why);
    }

    free(qname);

    return rc;
}


int
acmev_dnssec_anchor_check(const char *path, char *err, size_t errlen)
{
    int            line, anchors;
    FILE          *f;
    size_t         i;
    ldns_zone     *zone;
    ldns_status    st;
    ldns_rr_list  *rrs;
    ldns_rr_type   t;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return ACMEV_EINVAL;
    }

    zone = NULL;
    line = 1;

    /* the zone file parser: $ORIGIN, $TTL, parentheses, comments */
    st = ldns_zone_new_frm_fp_l(&zone, f, NULL, 3600, LDNS_RR_CLASS_IN,
                                &line);
    fclose(f);

    if (st == LDNS_STATUS_MEM_ERR) {
        snprintf(err, errlen, "out of memory");
        return ACMEV_ENOMEM;
    }

    if (st != LDNS_STATUS_OK) {
        /* ldns has counted the newline of the bad line already */
        snprintf(err, errlen, "%s:%d: %s", path, line > 1 ? line - 1 : 1,
                 ldns_get_errorstr_by_id(st));
        return ACMEV_EINVAL;
    }

    anchors = 0;
    rrs = ldns_zone_rrs(zone);

    for (i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++) {
        t = ldns_rr_get_type(ldns_rr_list_rr(rrs, i));

        if (t == LDNS_RR_TYPE_DS || t == LDNS_RR_TYPE_DNSKEY) {
            anchors++;
        }
    }

    ldns_zone_deep_free(zone);

    if (anchors == 0) {
        snprintf(err, errlen, "%s: no DS or DNSKEY record", path);
        return ACMEV_EINVAL;
    }

    return ACMEV_OK;
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


/* a validating forwarder with its own thread, nothing read from /etc */
static struct ub_ctx *
acmev_dnssec_ctx(const acmev_conf_t *conf, char *why, size_t whylen)
{
    int                 err;
    char                fwd[INET6_ADDRSTRLEN + 8];
    size_t              i;
    struct ub_ctx      *ctx;
    const acmev_ns_t   *ns;

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
     * libunbound answers names under "test." (RFC 6761 6.2) with NXDOMAIN
     * itself; the unvalidated path asks the resolvers, and lab zones live
     * there, so validation asks them too
     */
    if (err == 0) {
        err = ub_ctx_set_option(ctx, "local-zone:", "test. transparent");
    }

    for (i = 0; err == 0 && i < conf->nresolvers; i++) {
        ns = &conf->resolvers[i];
        snprintf(fwd, sizeof(fwd), "%s@%d", ns->addr, (int) ns->port);
        err = ub_ctx_set_fwd(ctx, fwd);
    }

    if (err == 0) {
        err = ub_ctx_add_ta_file(ctx, conf->dnssec_trust_anchor);
    }

    if (err != 0) {
        snprintf(why, whylen, "DNSSEC resolver: %s", ub_strerror(err));
        ub_ctx_delete(ctx);
        return NULL;
    }

    return ctx;
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
