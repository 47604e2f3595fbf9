/*
 * Copyright (C) nginx-acme-server authors
 *
 * Validator metrics: process-wide counters (a struct of C11 atomics,
 * updated by any thread without a lock) and the Prometheus endpoint of
 * the "metrics_listen" option, a thread serving GET /metrics in the text
 * exposition format 0.0.4.  Names follow Prometheus conventions:
 * acme_validator_*, "_total" counters, base units (seconds).
 */

#ifndef ACMEV_METRICS_H
#define ACMEV_METRICS_H

#include <time.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "acme/acme_problem.h"


#ifndef ACMEV_VERSION
#define ACMEV_VERSION  "dev"         /* -DACMEV_VERSION=\"x.y\" */
#endif


/* acme_validator_errors_total{kind} */
typedef enum {
    ACMEV_METRICS_ERR_DNS = 0,       /* lookup failed (problem "dns") */
    ACMEV_METRICS_ERR_HTTP,          /* http-01 connection failed */
    ACMEV_METRICS_ERR_TLS,           /* TLS connect or handshake failed */
    ACMEV_METRICS_ERR_STORE,         /* PostgreSQL */
    ACMEV_METRICS_ERR_REDIS,
    ACMEV_METRICS_ERR_INTERNAL,      /* a check ended without a result */
    ACMEV_METRICS_ERR_DNSSEC,        /* a bogus answer (RFC 4035 5.5) */
    ACMEV_METRICS_ERR_MAX
} acmev_metrics_err_e;

/* plain counters */
typedef enum {
    ACMEV_METRICS_RECLAIMED = 0,     /* jobs taken over with XAUTOCLAIM */
    ACMEV_METRICS_REQUEUED,          /* stale challenges queued again */
    ACMEV_METRICS_ORDERS_RECOVERED,  /* orders failed by recovery */
    ACMEV_METRICS_COUNTER_MAX
} acmev_metrics_counter_e;


/*
 * acmev_metrics_validation(): one check run to a result.  type is the
 * challenge type (borrowed; an unknown one is counted as "other"), prob
 * the problem type of an invalid result or ACME_PROB_NONE for a valid
 * one, duration_us the check's wall time.  A network problem also counts
 * in errors_total: "dns" -> dns, "tls" -> tls, "connection" -> http or
 * tls by challenge type.  Any thread.
 */
void acmev_metrics_validation(const char *type, acme_prob_e prob,
    long long duration_us);

/* errors_total{kind} += 1; any thread */
void acmev_metrics_error(acmev_metrics_err_e kind);

/* counter += n; any thread */
void acmev_metrics_add(acmev_metrics_counter_e counter, size_t n);

/*
 * acmev_metrics_queue_lag(): sets the queue lag gauge to now minus the
 * time in a stream entry id ("<ms>-<seq>", borrowed); a malformed id is
 * ignored, a negative lag (clocks apart) is 0.  Any thread.
 */
void acmev_metrics_queue_lag(const char *entry_id);

/* the unix time of the last heartbeat written to Redis; any thread */
void acmev_metrics_heartbeat(time_t now);

/*
 * acmev_metrics_render(): the text exposition of every metric.  *out is a
 * new NUL-terminated allocation of *len bytes (caller frees).  ACMEV_OK or
 * ACMEV_ENOMEM.  Counters are read one by one, not as a snapshot: a
 * histogram's _count is the sum of its buckets, its _sum may lag by the
 * observation in progress.
 */
int acmev_metrics_render(char **out, size_t *len);

/*
 * acmev_metrics_start(): binds sa (borrowed, salen bytes) and starts the
 * endpoint's thread, which serves one connection at a time (each bounded
 * in size and time) and returns within a quarter second of *quit != 0
 * (borrowed until acmev_metrics_join()).  Call once, before any worker
 * starts.  ACMEV_OK, or ACMEV_EIO (bind, listen, pthread_create) logged.
 */
int acmev_metrics_start(const struct sockaddr *sa, socklen_t salen,
    atomic_int *quit);

/* waits for a started endpoint's thread and closes the socket; no-op if
 * acmev_metrics_start() did not succeed */
void acmev_metrics_join(void);


#endif /* ACMEV_METRICS_H */
