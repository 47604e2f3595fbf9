/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <jansson.h>

#include "acme/acme_problem.h"
#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_conf.h"
#include "acmev_http01.h"
#include "acmev_dns01.h"
#include "acmev_tlsalpn01.h"
#include "acmev_caa.h"
#include "acmev_metrics.h"
#include "acmev_worker.h"


#define ACMEV_BLOCK_MS        1000   /* XREADGROUP wait: drain latency */
#define ACMEV_RETRY_MS        1000   /* pause after a store failure */
#define ACMEV_RECLAIM_BATCH   16
#define ACMEV_STALE_BATCH     100


static void *acmev_worker_main(void *arg);
static int acmev_worker_job(acmev_worker_t *w, const acme_redis_job_t *rj);
static int acmev_worker_check(const acme_pg_job_t *job, acme_problem_t *prob,
    char **record);
static int acmev_worker_record_add(char **record, const char *add);
static void acmev_worker_reclaim(acmev_worker_t *w);

/* seconds an order may stay "processing" before recovery fails it */
#define ACMEV_ORDER_RECOVER_AGE  120
static void acmev_worker_sleep(acmev_worker_t *w, int ms);
static long acmev_worker_now(void);
static long long acmev_worker_us(void);


int
acmev_worker_start(acmev_worker_t *w, int index, atomic_int *quit)
{
    int            rc, err;
    acmev_conf_t  *conf;

    conf = acmev_conf_acquire();

    w->index = index;
    w->quit = quit;
    snprintf(w->consumer, sizeof(w->consumer), "%s-%d", conf->consumer,
             index);

    /* both handles connect lazily: a down store is retried by the thread */
    w->pg = acme_pg_open(conf->database);

    /* acme_redis_job_read() adds its block time to this itself */
    w->rd = acme_redis_open(conf->redis_host, conf->redis_port,
                            conf->timeout * 1000);

    acmev_conf_release(conf);

    if (w->pg == NULL || w->rd == NULL) {
        acmev_log(LOG_ERR, "worker %d: out of memory", index);
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    /* planned once per connection (a failed SET drops the connection,
     * which the thread's next store call reconnects) */
    (void) acme_pg_generic_plans(w->pg);

    err = pthread_create(&w->tid, NULL, acmev_worker_main, w);
    if (err != 0) {
        acmev_log(LOG_ERR, "worker %d: pthread_create() failed: %s", index,
                  strerror(err));
        rc = ACMEV_EIO;
        goto failed;
    }

    return ACMEV_OK;

failed:

    if (w->pg != NULL) {
        acme_pg_close(w->pg);
        w->pg = NULL;
    }

    if (w->rd != NULL) {
        acme_redis_close(w->rd);
        w->rd = NULL;
    }

    return rc;
}


void
acmev_worker_join(acmev_worker_t *w)
{
    pthread_join(w->tid, NULL);

    acme_pg_close(w->pg);
    acme_redis_close(w->rd);
    w->pg = NULL;
    w->rd = NULL;
}


static void *
acmev_worker_main(void *arg)
{
    int                rc, grouped, down;
    long               now, next_reclaim;
    size_t             i, n;
    acmev_conf_t      *conf;
    acmev_worker_t    *w;
    acme_redis_job_t   jobs[1];

    w = arg;
    grouped = 0;
    down = 0;
    next_reclaim = 0;

    acmev_log(LOG_INFO, "worker %d: consumer \"%s\" started", w->index,
              w->consumer);

    while (!atomic_load(w->quit)) {

        if (!grouped) {
            if (acme_redis_group_create(w->rd) != ACME_OK) {
                acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);

                /* log the first failure of a series, not every second */
                acmev_log(down ? LOG_DEBUG : LOG_ERR, "worker %d: redis: %s",
                          w->index, acme_redis_errmsg(w->rd));
                down = 1;
                acmev_worker_sleep(w, ACMEV_RETRY_MS);
                continue;
            }

            grouped = 1;
        }

        now = acmev_worker_now();

        if (w->index == 0 && now >= next_reclaim) {
            conf = acmev_conf_acquire();
            next_reclaim = now + (conf->reclaim_idle + 1) / 2;
            acmev_conf_release(conf);

            acmev_worker_reclaim(w);
        }

        /* one job at a time, so that idle workers take the next ones */
        n = 0;
        rc = acme_redis_job_read(w->rd, w->consumer, ACMEV_BLOCK_MS, jobs, 1,
                                 &n);
        if (rc != ACME_OK) {
            acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);
            acmev_log(down ? LOG_DEBUG : LOG_ERR, "worker %d: redis: %s",
                      w->index, acme_redis_errmsg(w->rd));
            down = 1;
            grouped = 0;        /* the stream may have been lost: remake */
            acmev_worker_sleep(w, ACMEV_RETRY_MS);
            continue;
        }

        if (down) {
            acmev_log(LOG_NOTICE, "worker %d: redis reachable again",
                      w->index);
            down = 0;
        }

        /* new entries only: a reclaimed one is late by design */
        if (n > 0) {
            acmev_metrics_queue_lag(jobs[n - 1].entry_id);
        }

        /* a job read is ours: finish it even when asked to quit */
        for (i = 0; i < n; i++) {
            if (acmev_worker_job(w, &jobs[i]) == ACMEV_ESTORE) {
                acmev_worker_sleep(w, ACMEV_RETRY_MS);
            }
        }
    }

    acmev_log(LOG_INFO, "worker %d: stopped", w->index);

    return NULL;
}


/*
 * A CAA recheck before issuance (CA/B BR 3.2.2.8: the nginx module asks
 * when an authorization's last check is older than 8 hours): the
 * authorization's identifier is checked again, with the challenge type
 * that validated it, and the result recorded; the module waits for it.
 */
static int
acmev_worker_caa(acmev_worker_t *w, const acme_redis_job_t *rj)
{
    int              rc;
    char            *record, *error;
    acmev_conf_t    *conf;
    acme_pg_job_t    job;
    acme_problem_t   prob;

    record = NULL;
    error = NULL;

    rc = acme_pg_caa_job_load(w->pg, rj->chall_id, &job);

    if (rc == ACME_ERROR) {
        /* nothing decided: left for XAUTOCLAIM */
        acmev_metrics_error(ACMEV_METRICS_ERR_STORE);
        acmev_log(LOG_ERR, "worker %d: CAA job %s: postgresql: %s",
                  w->index, rj->chall_id, acme_pg_errmsg(w->pg));
        return ACMEV_ESTORE;
    }

    if (rc == ACME_OK) {
        memset(&prob, 0, sizeof(acme_problem_t));
        conf = acmev_conf_acquire();

        /* without caa_identities this CA checks no CAA at all */
        rc = (conf->ncaa_ids > 0)
             ? acmev_caa_check(conf, &job, &prob, &record) : ACMEV_OK;

        acmev_conf_release(conf);
        free(record);

        if (rc != ACMEV_OK && rc != ACMEV_EFAILED) {
            acmev_log(LOG_ERR, "worker %d: CAA job %s: check failed (%d), "
                      "left for a retry", w->index, rj->chall_id, rc);
            return ACMEV_OK;
        }

        error = (rc == ACMEV_EFAILED) ? acme_problem_json(&prob) : NULL;

        if (acme_pg_caa_result(w->pg, &job, error) != ACME_OK) {
            free(error);
            acmev_metrics_error(ACMEV_METRICS_ERR_STORE);
            acmev_log(LOG_ERR, "worker %d: CAA job %s: postgresql: %s",
                      w->index, rj->chall_id, acme_pg_errmsg(w->pg));
            return ACMEV_ESTORE;
        }

        acmev_log(LOG_NOTICE, "authorization %s %s:%s CAA recheck %s%s%s",
                  rj->chall_id, job.identifier_type, job.identifier_value,
                  error ? "refused" : "permitted", error ? ": " : "",
                  error ? prob.detail : "");
        free(error);
    }

    if (acme_redis_job_ack(w->rd, rj->entry_id) != ACME_OK) {
        acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);
    }

    return ACMEV_OK;
}


/*
 * One job: load, check, record, acknowledge (DESIGN.md "Validation").
 * Returns ACMEV_OK (acknowledged or left for a retry on purpose) or
 * ACMEV_ESTORE (PostgreSQL failed: left unacknowledged, to be reclaimed).
 */
static int
acmev_worker_job(acmev_worker_t *w, const acme_redis_job_t *rj)
{
    int              rc;
    char            *record, *error;
    long long        start;
    acme_pg_job_t    job;
    acme_problem_t   prob;

    record = NULL;
    error = NULL;

    if (rj->chall_id[0] == '\0') {
        acmev_log(LOG_WARNING, "worker %d: stream entry %s has no challenge",
                  w->index, rj->entry_id);
        goto ack;
    }

    if (rj->caa) {
        return acmev_worker_caa(w, rj);
    }

    if (acme_pg_ensure(w->pg) != ACME_OK) {
        rc = ACMEV_ESTORE;
        goto failed;
    }

    memset(&job, 0, sizeof(acme_pg_job_t));

    rc = acme_pg_job_load(w->pg, rj->chall_id, &job);

    if (rc == ACME_ERROR) {
        /* a connection broken since the last job (a PostgreSQL restart)
         * fails once; the store reconnects on the next call */
        rc = acme_pg_job_load(w->pg, rj->chall_id, &job);
    }

    if (rc == ACME_NOT_FOUND) {
        acmev_log(LOG_WARNING, "worker %d: challenge %s not found",
                  w->index, rj->chall_id);
        goto ack;
    }

    if (rc != ACME_OK) {
        rc = ACMEV_ESTORE;
        goto failed;
    }

    /* a repeated or reclaimed job whose result is already recorded */
    if (strcmp(job.status, "processing") != 0) {
        acmev_log(LOG_INFO, "worker %d: challenge %s is %s, nothing to do",
                  w->index, job.chall_public_id, job.status);
        goto ack;
    }

    memset(&prob, 0, sizeof(acme_problem_t));

    start = acmev_worker_us();

    rc = acmev_worker_check(&job, &prob, &record);

    /* counted when decided, recorded or not: a retry is another check */
    if (rc == ACMEV_OK || rc == ACMEV_EFAILED) {
        acmev_metrics_validation(job.type,
                                 rc == ACMEV_OK ? ACME_PROB_NONE : prob.type,
                                 acmev_worker_us() - start);

    } else {
        acmev_metrics_error(ACMEV_METRICS_ERR_INTERNAL);
    }

    if (rc == ACMEV_EFAILED) {
        error = acme_problem_json(&prob);
        if (error == NULL) {
            rc = ACMEV_ENOMEM;
        }
    }

    if (rc != ACMEV_OK && rc != ACMEV_EFAILED) {
        /* nothing decided: leave it for XAUTOCLAIM */
        acmev_log(LOG_ERR, "worker %d: challenge %s: check failed (%d), "
                  "left for a retry", w->index, job.chall_public_id, rc);
        rc = ACMEV_OK;
        goto done;
    }

    rc = acme_pg_chall_result(w->pg, &job, error, record);

    switch (rc) {

    case ACME_OK:
        acmev_log(LOG_NOTICE, "challenge %s %s %s:%s %s%s%s",
                  job.chall_public_id, job.type, job.identifier_type,
                  job.identifier_value, error ? "invalid" : "valid",
                  error ? ": " : "", error ? prob.detail : "");
        break;

    case ACME_CONFLICT:
    case ACME_NOT_FOUND:
        /* results are idempotent: another validator recorded it first */
        acmev_log(LOG_INFO, "worker %d: challenge %s already recorded",
                  w->index, job.chall_public_id);
        break;

    default:
        rc = ACMEV_ESTORE;
        goto failed;
    }

ack:

    /* only now is the result committed (or not needed) */
    if (acme_redis_job_ack(w->rd, rj->entry_id) != ACME_OK) {
        acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);
        acmev_log(LOG_WARNING, "worker %d: XACK %s: %s (it will be "
                  "reclaimed and found done)", w->index, rj->entry_id,
                  acme_redis_errmsg(w->rd));
    }

    rc = ACMEV_OK;
    goto done;

failed:

    acmev_metrics_error(ACMEV_METRICS_ERR_STORE);
    acmev_log(LOG_ERR, "worker %d: challenge %s: postgresql: %s, left "
              "unacknowledged", w->index, rj->chall_id,
              acme_pg_errmsg(w->pg));

done:

    free(record);
    free(error);

    return rc;
}


/*
 * Runs the check of the challenge's type with the current configuration,
 * then, when it passed and caa_identities is set, the CAA check (RFC 8659
 * 3: before issuance; done at validation as Let's Encrypt does, so a
 * refusal is reported on the challenge).  *record is the JSON array of the
 * check's validation records, with the CAA record appended.
 */
static int
acmev_worker_check(const acme_pg_job_t *job, acme_problem_t *prob,
    char **record)
{
    int            rc, rc2;
    char          *caa;
    acmev_conf_t  *conf;

    *record = NULL;
    caa = NULL;

    /* held for the whole check: a SIGHUP never changes one midway */
    conf = acmev_conf_acquire();

    if (job->wildcard && strcmp(job->type, "dns-01") != 0) {
        /* RFC 8555 7.1.3: a wildcard is validated with dns-01 only */
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s cannot "
                         "validate a wildcard authorization", job->type);
        rc = ACMEV_EFAILED;

    } else if (strcmp(job->type, "http-01") == 0) {
        rc = acmev_http01_check(conf, job, prob, record);

    } else if (strcmp(job->type, "dns-01") == 0) {
        rc = acmev_dns01_check(conf, job, prob, record);

    } else if (strcmp(job->type, "tls-alpn-01") == 0) {
        rc = acmev_tlsalpn01_check(conf, job, prob, record);

    } else {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "challenge type "
                         "\"%s\" is not supported by this validator",
                         job->type);
        rc = ACMEV_EFAILED;
    }

    if (rc == ACMEV_OK && conf->ncaa_ids > 0) {
        rc = acmev_caa_check(conf, job, prob, &caa);

        rc2 = acmev_worker_record_add(record, caa);
        if (rc2 != ACMEV_OK && rc != ACMEV_ENOMEM) {
            acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                             "out of memory");
            rc = rc2;
        }
    }

    acmev_conf_release(conf);
    free(caa);

    return rc;
}


/* appends the JSON value add to the JSON array *record (both may be NULL) */
static int
acmev_worker_record_add(char **record, const char *add)
{
    char    *s;
    json_t  *list, *v;

    if (add == NULL) {
        return ACMEV_OK;
    }

    list = (*record != NULL) ? json_loads(*record, 0, NULL) : json_array();
    v = json_loads(add, JSON_DECODE_ANY, NULL);

    if (list == NULL || v == NULL || !json_is_array(list)) {
        json_decref(list);
        json_decref(v);
        return ACMEV_ENOMEM;
    }

    /* v is the array's, even when this fails */
    if (json_array_append_new(list, v) != 0) {
        json_decref(list);
        return ACMEV_ENOMEM;
    }

    s = json_dumps(list, JSON_COMPACT);
    json_decref(list);

    if (s == NULL) {
        return ACMEV_ENOMEM;
    }

    free(*record);
    *record = s;

    return ACMEV_OK;
}


/*
 * Worker 0, every reclaim_idle / 2 seconds: XAUTOCLAIM jobs idle longer
 * than reclaim_idle (a validator died or lost PostgreSQL) and run them;
 * then re-enqueue challenges in "processing" for longer than twice that,
 * whose jobs Redis lost.  A duplicate job is harmless: results are
 * idempotent and a finished challenge is only acknowledged.  Last, fail
 * orders interrupted in "processing" (acme_pg_orders_recover()).
 */
static void
acmev_worker_reclaim(acmev_worker_t *w)
{
    int                idle;
    char             **ids;
    size_t             i, n;
    acmev_conf_t      *conf;
    acme_redis_job_t   jobs[ACMEV_RECLAIM_BATCH];

    conf = acmev_conf_acquire();
    idle = conf->reclaim_idle;
    acmev_conf_release(conf);

    n = 0;

    if (acme_redis_job_claim(w->rd, w->consumer, idle * 1000, jobs,
                             ACMEV_RECLAIM_BATCH, &n)
        != ACME_OK)
    {
        acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);
        acmev_log(LOG_ERR, "worker %d: XAUTOCLAIM: %s", w->index,
                  acme_redis_errmsg(w->rd));
        return;
    }

    acmev_metrics_add(ACMEV_METRICS_RECLAIMED, n);

    for (i = 0; i < n && !atomic_load(w->quit); i++) {
        acmev_log(LOG_INFO, "worker %d: reclaimed job %s (challenge %s)",
                  w->index, jobs[i].entry_id, jobs[i].chall_id);

        if (acmev_worker_job(w, &jobs[i]) == ACMEV_ESTORE) {
            return;
        }
    }

    if (acme_pg_ensure(w->pg) != ACME_OK) {
        acmev_metrics_error(ACMEV_METRICS_ERR_STORE);
        return;
    }

    ids = NULL;
    n = 0;

    if (acme_pg_chall_stale(w->pg, 2 * idle, ACMEV_STALE_BATCH, &ids, &n)
        != ACME_OK)
    {
        acmev_metrics_error(ACMEV_METRICS_ERR_STORE);
        acmev_log(LOG_ERR, "worker %d: stale challenges: postgresql: %s",
                  w->index, acme_pg_errmsg(w->pg));
        return;
    }

    for (i = 0; i < n; i++) {
        if (acme_redis_job_add(w->rd, ids[i]) != ACME_OK) {
            acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);
            acmev_log(LOG_ERR, "worker %d: XADD %s: %s", w->index, ids[i],
                      acme_redis_errmsg(w->rd));
            break;
        }

        acmev_metrics_add(ACMEV_METRICS_REQUEUED, 1);
        acmev_log(LOG_NOTICE, "challenge %s stuck in processing, queued "
                  "again", ids[i]);
    }

    acme_pg_strv_free(ids, n);

    /* orders left "processing" by a crash between reserving a serial and
     * storing its certificate (finalize takes well under a second) */
    if (acme_pg_orders_recover(w->pg, ACMEV_ORDER_RECOVER_AGE, &n)
        != ACME_OK)
    {
        acmev_metrics_error(ACMEV_METRICS_ERR_STORE);
        acmev_log(LOG_ERR, "worker %d: order recovery: postgresql: %s",
                  w->index, acme_pg_errmsg(w->pg));
        return;
    }

    acmev_metrics_add(ACMEV_METRICS_ORDERS_RECOVERED, n);

    if (n) {
        acmev_log(LOG_NOTICE, "recovery: %zu order(s) interrupted in "
                  "processing set invalid", n);
    }
}


/* sleeps ms, waking every 100 ms to notice a quit request */
static void
acmev_worker_sleep(acmev_worker_t *w, int ms)
{
    struct timespec  ts;

    ts.tv_sec = 0;
    ts.tv_nsec = 100 * 1000000L;

    for ( /* void */ ; ms > 0 && !atomic_load(w->quit); ms -= 100) {
        nanosleep(&ts, NULL);
    }
}


static long
acmev_worker_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long) ts.tv_sec;
}


static long long
acmev_worker_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
