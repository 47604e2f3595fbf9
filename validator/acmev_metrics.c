/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <time.h>
#include <poll.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_metrics.h"


#define ACMEV_METRICS_POLL_MS     250    /* quit is noticed this often */
#define ACMEV_METRICS_READ_MS     2000   /* a whole request head */
#define ACMEV_METRICS_WRITE_MS    2000   /* a whole response */
#define ACMEV_METRICS_LINGER_MS   500    /* draining before close */
#define ACMEV_METRICS_REQ_MAX     4096   /* request line and headers */
#define ACMEV_METRICS_BACKLOG     16

/* the text exposition format, as Prometheus's own clients name it */
#define ACMEV_METRICS_CONTENT_TYPE                                           \
    "text/plain; version=0.0.4; charset=utf-8"

/* challenge types, label "type"; the last one is any other */
#define ACMEV_METRICS_TYPES       4
#define ACMEV_METRICS_BUCKETS     10     /* finite buckets; +Inf is one more */


typedef struct {
    atomic_ullong   count[ACMEV_METRICS_BUCKETS + 1];   /* per bucket */
    atomic_ullong   sum_us;
} acmev_metrics_hist_t;

/* every metric; zero-initialized as a static object */
typedef struct {
    atomic_ullong          valid[ACMEV_METRICS_TYPES];
    atomic_ullong          invalid[ACMEV_METRICS_TYPES][ACME_PROB_MAX];
    acmev_metrics_hist_t   duration[ACMEV_METRICS_TYPES];
    atomic_ullong          errors[ACMEV_METRICS_ERR_MAX];
    atomic_ullong          counters[ACMEV_METRICS_COUNTER_MAX];
    atomic_llong           queue_lag_ms;
    atomic_llong           heartbeat;
    atomic_llong           start_time;
} acmev_metrics_t;

/* the response being rendered */
typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
    int      failed;
} acmev_metrics_buf_t;


static void acmev_metrics_printf(acmev_metrics_buf_t *b, const char *fmt,
    ...) __attribute__((format(printf, 2, 3)));
static void acmev_metrics_head(acmev_metrics_buf_t *b, const char *name,
    const char *type, const char *help);
static const char *acmev_metrics_prob_name(acme_prob_e prob);
static void *acmev_metrics_main(void *arg);
static void acmev_metrics_serve(int fd);
static int acmev_metrics_route(char *req);
static int acmev_metrics_read(int fd, char *buf, size_t size, size_t *len);
static void acmev_metrics_reply(int fd, int status, const char *reason,
    const char *extra, const char *body, size_t len);
static int acmev_metrics_write(int fd, const char *data, size_t len,
    long long deadline);
static void acmev_metrics_linger(int fd);
static long long acmev_metrics_ms(clockid_t clock);


static const char  *acmev_metrics_types[ACMEV_METRICS_TYPES] = {
    "http-01", "dns-01", "tls-alpn-01", "other"
};

/* upper bounds, microseconds: 0.01 0.05 0.1 0.25 0.5 1 2.5 5 10 30 s */
static const long long  acmev_metrics_bounds[ACMEV_METRICS_BUCKETS] = {
    10000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000
};

static const char  *acmev_metrics_les[ACMEV_METRICS_BUCKETS] = {
    "0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30"
};

static const char  *acmev_metrics_err_kinds[ACMEV_METRICS_ERR_MAX] = {
    "dns", "http", "tls", "store", "redis", "internal", "dnssec"
};


static acmev_metrics_t  acmev_metrics;

/* the endpoint: one per process */
static int              acmev_metrics_fd = -1;
static int              acmev_metrics_started;
static pthread_t        acmev_metrics_tid;
static atomic_int      *acmev_metrics_quit;


void
acmev_metrics_validation(const char *type, acme_prob_e prob,
    long long duration_us)
{
    int                    t, i;
    acmev_metrics_hist_t  *h;

    for (t = 0; t < ACMEV_METRICS_TYPES - 1; t++) {
        if (strcmp(type, acmev_metrics_types[t]) == 0) {
            break;
        }
    }

    if (prob == ACME_PROB_NONE) {
        atomic_fetch_add(&acmev_metrics.valid[t], 1);

    } else if (prob > ACME_PROB_NONE && prob < ACME_PROB_MAX) {
        atomic_fetch_add(&acmev_metrics.invalid[t][prob], 1);
    }

    if (duration_us < 0) {
        duration_us = 0;
    }

    /* the first bucket whose bound is not below: "le" is inclusive */
    for (i = 0; i < ACMEV_METRICS_BUCKETS; i++) {
        if (duration_us <= acmev_metrics_bounds[i]) {
            break;
        }
    }

    h = &acmev_metrics.duration[t];
    atomic_fetch_add(&h->sum_us, (unsigned long long) duration_us);
    atomic_fetch_add(&h->count[i], 1);

    switch (prob) {

    case ACME_PROB_DNS:
        acmev_metrics_error(ACMEV_METRICS_ERR_DNS);
        break;

    case ACME_PROB_TLS:
        acmev_metrics_error(ACMEV_METRICS_ERR_TLS);
        break;

    case ACME_PROB_CONNECTION:
        acmev_metrics_error(strcmp(type, "tls-alpn-01") == 0
                            ? ACMEV_METRICS_ERR_TLS : ACMEV_METRICS_ERR_HTTP);
        break;

    default:
        break;
    }
}


void
acmev_metrics_error(acmev_metrics_err_e kind)
{
    if ((unsigned) kind < ACMEV_METRICS_ERR_MAX) {
        atomic_fetch_add(&acmev_metrics.errors[kind], 1);
    }
}


void
acmev_metrics_add(acmev_metrics_counter_e counter, size_t n)
{
    if ((unsigned) counter < ACMEV_METRICS_COUNTER_MAX) {
        atomic_fetch_add(&acmev_metrics.counters[counter], n);
    }
}


void
acmev_metrics_queue_lag(const char *entry_id)
{
    char       *end;
    long long   ms, lag;

    /* the first part of a stream entry id is Redis's clock, in ms */
    errno = 0;
    ms = strtoll(entry_id, &end, 10);

    if (errno != 0 || end == entry_id || *end != '-' || ms <= 0) {
        return;
    }

    lag = acmev_metrics_ms(CLOCK_REALTIME) - ms;

    atomic_store(&acmev_metrics.queue_lag_ms, lag > 0 ? lag : 0);
}


void
acmev_metrics_heartbeat(time_t now)
{
    atomic_store(&acmev_metrics.heartbeat, (long long) now);
}


int
acmev_metrics_render(char **out, size_t *len)
{
    int                    t, p, i, k;
    long long              lag;
    const char            *name;
    unsigned long long     n, cum;
    acmev_metrics_buf_t    b;
    acmev_metrics_hist_t  *h;

    memset(&b, 0, sizeof(acmev_metrics_buf_t));

    acmev_metrics_head(&b, "acme_validator_up", "gauge",
                       "1 while the validator runs");
    acmev_metrics_printf(&b, "acme_validator_up 1\n");

    acmev_metrics_head(&b, "acme_validator_build_info", "gauge",
                       "Version of the validator, as a label; always 1");
    acmev_metrics_printf(&b, "acme_validator_build_info{version=\"%s\"} 1\n",
                         ACMEV_VERSION);

    acmev_metrics_head(&b, "acme_validator_start_time_seconds", "gauge",
                       "Unix time the validator started");
    acmev_metrics_printf(&b, "acme_validator_start_time_seconds %lld\n",
                         atomic_load(&acmev_metrics.start_time));

    acmev_metrics_head(&b, "acme_validator_validations_total", "counter",
                       "Challenge checks run to a result, by challenge "
                       "type, result and problem type of an invalid one");

    for (t = 0; t < ACMEV_METRICS_TYPES; t++) {
        n = atomic_load(&acmev_metrics.valid[t]);

        /* the known types always, so that rate() has a start */
        if (t < ACMEV_METRICS_TYPES - 1 || n > 0) {
            acmev_metrics_printf(&b, "acme_validator_validations_total"
                                 "{type=\"%s\",result=\"valid\"} %llu\n",
                                 acmev_metrics_types[t], n);
        }

        for (p = ACME_PROB_NONE + 1; p < ACME_PROB_MAX; p++) {
            n = atomic_load(&acmev_metrics.invalid[t][p]);
            if (n == 0) {
                continue;
            }

            acmev_metrics_printf(&b, "acme_validator_validations_total"
                                 "{type=\"%s\",result=\"invalid\","
                                 "problem=\"%s\"} %llu\n",
                                 acmev_metrics_types[t],
                                 acmev_metrics_prob_name(p), n);
        }
    }

    acmev_metrics_head(&b, "acme_validator_validation_duration_seconds",
                       "histogram", "Time a challenge check took, CAA "
                       "check included, by challenge type");

    for (t = 0; t < ACMEV_METRICS_TYPES; t++) {
        h = &acmev_metrics.duration[t];
        name = acmev_metrics_types[t];
        cum = 0;

        for (i = 0; i <= ACMEV_METRICS_BUCKETS; i++) {
            cum += atomic_load(&h->count[i]);
        }

        if (t == ACMEV_METRICS_TYPES - 1 && cum == 0) {
            continue;
        }

        cum = 0;

        for (i = 0; i <= ACMEV_METRICS_BUCKETS; i++) {
            cum += atomic_load(&h->count[i]);

            acmev_metrics_printf(&b, "acme_validator_validation_duration_"
                                 "seconds_bucket{type=\"%s\",le=\"%s\"} "
                                 "%llu\n", name,
                                 i < ACMEV_METRICS_BUCKETS
                                 ? acmev_metrics_les[i] : "+Inf", cum);
        }

        n = atomic_load(&h->sum_us);

        acmev_metrics_printf(&b, "acme_validator_validation_duration_seconds"
                             "_sum{type=\"%s\"} %llu.%06llu\n", name,
                             n / 1000000, n % 1000000);
        acmev_metrics_printf(&b, "acme_validator_validation_duration_seconds"
                             "_count{type=\"%s\"} %llu\n", name, cum);
    }

    lag = atomic_load(&acmev_metrics.queue_lag_ms);

    acmev_metrics_head(&b, "acme_validator_queue_lag_seconds", "gauge",
                       "Age of the last new job when a worker read it "
                       "(now minus the time in its stream entry id)");
    acmev_metrics_printf(&b, "acme_validator_queue_lag_seconds %lld.%03lld\n",
                         lag / 1000, lag % 1000);

    acmev_metrics_head(&b, "acme_validator_reclaimed_jobs_total", "counter",
                       "Jobs left unacknowledged by a consumer and claimed "
                       "again (XAUTOCLAIM)");
    acmev_metrics_printf(&b, "acme_validator_reclaimed_jobs_total %llu\n",
                         atomic_load(&acmev_metrics.counters[
                                         ACMEV_METRICS_RECLAIMED]));

    acmev_metrics_head(&b, "acme_validator_requeued_challenges_total",
                       "counter", "Challenges stuck in processing whose "
                       "job was queued again");
    acmev_metrics_printf(&b, "acme_validator_requeued_challenges_total "
                         "%llu\n",
                         atomic_load(&acmev_metrics.counters[
                                         ACMEV_METRICS_REQUEUED]));

    acmev_metrics_head(&b, "acme_validator_orders_recovered_total",
                       "counter", "Orders interrupted in processing and "
                       "set invalid by recovery");
    acmev_metrics_printf(&b, "acme_validator_orders_recovered_total %llu\n",
                         atomic_load(&acmev_metrics.counters[
                                         ACMEV_METRICS_ORDERS_RECOVERED]));

    acmev_metrics_head(&b, "acme_validator_errors_total", "counter",
                       "Failures by kind: dns, http and tls (a check's "
                       "network step), store (PostgreSQL), redis, internal, "
                       "dnssec (a bogus answer)");

    for (k = 0; k < ACMEV_METRICS_ERR_MAX; k++) {
        acmev_metrics_printf(&b, "acme_validator_errors_total{kind=\"%s\"} "
                             "%llu\n", acmev_metrics_err_kinds[k],
                             atomic_load(&acmev_metrics.errors[k]));
    }

    acmev_metrics_head(&b, "acme_validator_heartbeat_timestamp_seconds",
                       "gauge", "Unix time of the last heartbeat written "
                       "to Redis; 0 before the first");
    acmev_metrics_printf(&b, "acme_validator_heartbeat_timestamp_seconds "
                         "%lld\n", atomic_load(&acmev_metrics.heartbeat));

    if (b.failed) {
        free(b.data);
        return ACMEV_ENOMEM;
    }

    *out = b.data;
    *len = b.len;

    return ACMEV_OK;
}


/* appends to b; a failed allocation marks b failed and stops appending */
static void
acmev_metrics_printf(acmev_metrics_buf_t *b, const char *fmt, ...)
{
    int       n;
    char     *p;
    size_t    size;
    va_list   args;

    if (b->failed) {
        return;
    }

    for ( ;; ) {
        if (b->data != NULL) {
            va_start(args, fmt);
            n = vsnprintf(b->data + b->len, b->size - b->len, fmt, args);
            va_end(args);

            if (n < 0) {
                b->failed = 1;
                return;
            }

            if ((size_t) n < b->size - b->len) {
                b->len += n;
                return;
            }
        }

        size = b->size ? 2 * b->size : 8192;

        p = realloc(b->data, size);
        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->data = p;
        b->size = size;
    }
}


static void
acmev_metrics_head(acmev_metrics_buf_t *b, const char *name,
    const char *type, const char *help)
{
    acmev_metrics_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                         type);
}


/* "dns" of "urn:ietf:params:acme:error:dns" */
static const char *
acmev_metrics_prob_name(acme_prob_e prob)
{
    const char  *urn, *p;

    urn = acme_problem_urn(prob);
    if (urn == NULL) {
        return "unknown";
    }

    p = strrchr(urn, ':');

    return p ? p + 1 : urn;
}


int
acmev_metrics_start(const struct sockaddr *sa, socklen_t salen,
    atomic_int *quit)
{
    int   fd, on, err;
    char  text[INET6_ADDRSTRLEN];

    on = 1;

    atomic_store(&acmev_metrics.start_time, (long long) time(NULL));

    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr,
                  text, sizeof(text));

    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
                  text, sizeof(text));
    }

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd == -1) {
        acmev_log(LOG_ERR, "metrics: socket() failed: %s", strerror(errno));
        goto failed;
    }

    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    if (sa->sa_family == AF_INET6) {
        /* "[::]:port" means IPv6 only, as in nginx's "listen [::]:port" */
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }

    if (bind(fd, sa, salen) != 0) {
        acmev_log(LOG_ERR, "metrics: bind() to %s port %d failed: %s", text,
                  ntohs(((const struct sockaddr_in *) sa)->sin_port),
                  strerror(errno));
        goto failed;
    }

    if (listen(fd, ACMEV_METRICS_BACKLOG) != 0) {
        acmev_log(LOG_ERR, "metrics: listen() failed: %s", strerror(errno));
        goto failed;
    }

    acmev_metrics_fd = fd;
    acmev_metrics_quit = quit;

    err = pthread_create(&acmev_metrics_tid, NULL, acmev_metrics_main, NULL);
    if (err != 0) {
        acmev_log(LOG_ERR, "metrics: pthread_create() failed: %s",
                  strerror(err));
        acmev_metrics_fd = -1;
        goto failed;
    }

    acmev_metrics_started = 1;

    /* sin_port and sin6_port are at the same offset */
    acmev_log(LOG_NOTICE, "metrics: listening on %s%s%s:%d",
              sa->sa_family == AF_INET6 ? "[" : "", text,
              sa->sa_family == AF_INET6 ? "]" : "",
              ntohs(((const struct sockaddr_in *) sa)->sin_port));

    return ACMEV_OK;

failed:

    if (fd != -1) {
        close(fd);
    }

    return ACMEV_EIO;
}


void
acmev_metrics_join(void)
{
    if (!acmev_metrics_started) {
        return;
    }

    pthread_join(acmev_metrics_tid, NULL);

    close(acmev_metrics_fd);
    acmev_metrics_fd = -1;
    acmev_metrics_started = 0;
}


/* one connection at a time: a scrape is small and rare */
static void *
acmev_metrics_main(void *arg)
{
    int            fd, n, logged;
    struct pollfd  pfd;

    logged = 0;

    while (!atomic_load(acmev_metrics_quit)) {
        pfd.fd = acmev_metrics_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;

        n = poll(&pfd, 1, ACMEV_METRICS_POLL_MS);
        if (n <= 0) {
            continue;
        }

        fd = accept4(acmev_metrics_fd, NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            /* EMFILE and the like: keep going, logged once per series */
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED
                && !logged)
            {
                acmev_log(LOG_ERR, "metrics: accept() failed: %s",
                          strerror(errno));
                logged = 1;
            }

            continue;
        }

        logged = 0;

        acmev_metrics_serve(fd);
        close(fd);
    }

    return NULL;
}


static void
acmev_metrics_serve(int fd)
{
    int      rc, status;
    char     req[ACMEV_METRICS_REQ_MAX + 1], *body;
    size_t   len;

    body = NULL;

    rc = acmev_metrics_read(fd, req, sizeof(req) - 1, &len);

    /* a timeout or a reset: the client is not waiting for a reply */
    if (rc == ACMEV_EIO) {
        acmev_metrics_linger(fd);
        return;
    }

    status = 400;

    if (rc == ACMEV_OK) {
        req[len] = '\0';
        status = acmev_metrics_route(req);
    }

    if (status == 200 && acmev_metrics_render(&body, &len) != ACMEV_OK) {
        acmev_log(LOG_ERR, "metrics: out of memory");
        status = 500;
    }

    switch (status) {

    case 200:
        acmev_metrics_reply(fd, 200, "OK", NULL, body, len);
        break;

    case 404:
        acmev_metrics_reply(fd, 404, "Not Found", NULL, "not found\n", 10);
        break;

    case 405:
        acmev_metrics_reply(fd, 405, "Method Not Allowed", "Allow: GET\r\n",
                            "method not allowed\n", 19);
        break;

    case 500:
        acmev_metrics_reply(fd, 500, "Internal Server Error", NULL,
                            "out of memory\n", 14);
        break;

    default:
        acmev_metrics_reply(fd, 400, "Bad Request", NULL, "bad request\n",
                            12);
        break;
    }

    free(body);
    acmev_metrics_linger(fd);
}


/*
 * The status for a request head (NUL-terminated, modified): 200 for
 * "GET /metrics" (a query is ignored), 404 for another path, 405 for
 * another method, 400 for a malformed request line (RFC 9112 3: method
 * SP request-target SP HTTP-version).
 */
static int
acmev_metrics_route(char *req)
{
    char    *sp, *target, *version;
    size_t   n;

    n = strcspn(req, "\r\n");
    req[n] = '\0';

    sp = strchr(req, ' ');
    if (sp == NULL || sp == req) {
        return 400;
    }

    *sp = '\0';
    target = sp + 1;

    sp = strchr(target, ' ');
    if (sp == NULL || target[0] != '/') {
        return 400;
    }

    *sp = '\0';
    version = sp + 1;

    if (strncmp(version, "HTTP/1.", 7) != 0) {
        return 400;
    }

    n = strcspn(target, "?");

    if (n != sizeof("/metrics") - 1 || memcmp(target, "/metrics", n) != 0) {
        return 404;
    }

    return strcmp(req, "GET") == 0 ? 200 : 405;
}


/*
 * Reads a request head (up to an empty line) into buf within
 * ACMEV_METRICS_READ_MS.  ACMEV_OK; ACMEV_EINVAL when size bytes hold no
 * end of head; ACMEV_EIO on a timeout, an error or an early close.
 */
static int
acmev_metrics_read(int fd, char *buf, size_t size, size_t *len)
{
    int            n, left;
    ssize_t        got;
    long long      deadline;
    struct pollfd  pfd;

    *len = 0;
    deadline = acmev_metrics_ms(CLOCK_MONOTONIC) + ACMEV_METRICS_READ_MS;

    for ( ;; ) {
        if (*len == size) {
            return ACMEV_EINVAL;
        }

        got = recv(fd, buf + *len, size - *len, 0);

        if (got > 0) {
            *len += got;

            /* a bare LF ends lines too (RFC 9112 2.2) */
            if (memmem(buf, *len, "\r\n\r\n", 4) != NULL
                || memmem(buf, *len, "\n\n", 2) != NULL)
            {
                return ACMEV_OK;
            }

            continue;
        }

        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            return ACMEV_EIO;
        }

        left = (int) (deadline - acmev_metrics_ms(CLOCK_MONOTONIC));
        if (left <= 0) {
            return ACMEV_EIO;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;

        n = poll(&pfd, 1, left);
        if (n == 0) {
            return ACMEV_EIO;
        }
    }
}


static void
acmev_metrics_reply(int fd, int status, const char *reason,
    const char *extra, const char *body, size_t len)
{
    int        n;
    char       head[512];
    long long  deadline;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.0 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s"
                 "Connection: close\r\n"
                 "\r\n",
                 status, reason,
                 status == 200 ? ACMEV_METRICS_CONTENT_TYPE
                               : "text/plain; charset=utf-8",
                 len, extra ? extra : "");

    deadline = acmev_metrics_ms(CLOCK_MONOTONIC) + ACMEV_METRICS_WRITE_MS;

    if (acmev_metrics_write(fd, head, n, deadline) == ACMEV_OK) {
        (void) acmev_metrics_write(fd, body, len, deadline);
    }
}


static int
acmev_metrics_write(int fd, const char *data, size_t len, long long deadline)
{
    int            left;
    ssize_t        n;
    struct pollfd  pfd;

    while (len > 0) {
        n = send(fd, data, len, MSG_NOSIGNAL);

        if (n > 0) {
            data += n;
            len -= n;
            continue;
        }

        if (n == -1 && errno != EAGAIN && errno != EINTR) {
            return ACMEV_EIO;
        }

        left = (int) (deadline - acmev_metrics_ms(CLOCK_MONOTONIC));
        if (left <= 0) {
            return ACMEV_EIO;
        }

        pfd.fd = fd;
        pfd.events = POLLOUT;

        if (poll(&pfd, 1, left) == 0) {
            return ACMEV_EIO;
        }
    }

    return ACMEV_OK;
}


/*
 * Lingering close (as nginx's): unread request bytes would make close()
 * send a reset, which may destroy the response before the client reads
 * it; so the write side is shut and input discarded for a short while.
 */
static void
acmev_metrics_linger(int fd)
{
    int            left;
    char           buf[4096];
    ssize_t        n;
    long long      deadline;
    struct pollfd  pfd;

    if (shutdown(fd, SHUT_WR) != 0) {
        return;
    }

    deadline = acmev_metrics_ms(CLOCK_MONOTONIC) + ACMEV_METRICS_LINGER_MS;

    for ( ;; ) {
        left = (int) (deadline - acmev_metrics_ms(CLOCK_MONOTONIC));
        if (left <= 0) {
            return;
        }

        n = recv(fd, buf, sizeof(buf), 0);

        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
            return;
        }

        if (n > 0) {
            continue;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;

        if (poll(&pfd, 1, left) == 0) {
            return;
        }
    }
}


static long long
acmev_metrics_ms(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
