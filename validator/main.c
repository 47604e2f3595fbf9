/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-validator: the challenge validation daemon of nginx-acme-server.
 * Thin on purpose (CZ-NIC/knot: src/utils/knotd/main.c): arguments,
 * configuration, logging, worker threads, and a signal loop that drains
 * on SIGTERM/SIGINT and reloads on SIGHUP.  The work is in acmev_*.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <curl/curl.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_conf.h"
#include "acmev_dnssec.h"
#include "acmev_http01.h"
#include "acmev_worker.h"
#include "acmev_metrics.h"
#include "acmev_heartbeat.h"


#define ACMEV_NAME  "acme-validator"


static void acmev_usage(FILE *f, const char *prog);
static int acmev_reload(const char *path);
static int acmev_pidfile_write(const char *path);
static int acmev_main_anchor(acmev_conf_t *conf, char *err, size_t errlen);


static atomic_int  acmev_quit;


int
main(int argc, char **argv)
{
    int                 c, daemonize, test, sig, rc, hb_started;
    char                err[ACMEV_CONF_ERR_MAX], abspath[PATH_MAX];
    size_t              i, nstarted;
    sigset_t            set;
    const char         *path, *pidfile;
    acmev_conf_t       *conf;
    acmev_worker_t     *workers;
    acmev_heartbeat_t   hb;

    path = ACMEV_CONF_DEFAULT_PATH;
    pidfile = NULL;
    daemonize = 0;
    test = 0;
    workers = NULL;
    nstarted = 0;
    hb_started = 0;
    rc = 1;

    /* the GNU spelling of -h, which operators try first */
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        acmev_usage(stdout, argv[0]);
        return 0;
    }

    while ((c = getopt(argc, argv, "c:fdp:th")) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            daemonize = 0;
            break;
        case 'd':
            daemonize = 1;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'h':
            acmev_usage(stdout, argv[0]);
            return 0;
        default:
            acmev_usage(stderr, argv[0]);
            return 2;
        }
    }

    if (optind != argc) {
        acmev_usage(stderr, argv[0]);
        return 2;
    }

    acmev_log_init(0, ACMEV_NAME, LOG_NOTICE);

    /* daemon() changes to "/": SIGHUP must still find the file */
    if (realpath(path, abspath) != NULL) {
        path = abspath;
    }

    conf = acmev_conf_load(path, err, sizeof(err));
    if (conf == NULL || acmev_main_anchor(conf, err, sizeof(err)) != ACMEV_OK)
    {
        acmev_log(LOG_ERR, "configuration: %s", err);
        acmev_conf_free(conf);
        return 1;
    }

    if (conf->ncaa_ids == 0) {
        acmev_log(LOG_WARNING, "caa_identities is not set: CAA records "
                  "are not checked (RFC 8659 requires it of a public CA)");
    }

    if (test) {
        fprintf(stderr, "%s: configuration %s is ok\n", ACMEV_NAME, path);
        acmev_conf_free(conf);
        return 0;
    }

    if (conf->reclaim_idle <= conf->timeout * ACMEV_HTTP01_STEPS) {
        acmev_log(LOG_WARNING, "reclaim_idle %d is not above a check's "
                  "longest run (%d s): slow checks may run twice",
                  conf->reclaim_idle, conf->timeout * ACMEV_HTTP01_STEPS);
    }

    if (daemonize) {
        if (daemon(0, 0) != 0) {
            acmev_log(LOG_ERR, "daemon() failed: %s", strerror(errno));
            acmev_conf_free(conf);
            return 1;
        }

        /* stderr is /dev/null now */
        acmev_log_init(1, ACMEV_NAME, conf->log_level);
    }

    acmev_conf_publish(conf);
    conf = NULL;

    if (pidfile != NULL && acmev_pidfile_write(pidfile) != ACMEV_OK) {
        pidfile = NULL;
        goto failed;
    }

    /* before any thread: libcurl's global state is not thread-safe */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        acmev_log(LOG_ERR, "curl_global_init() failed");
        goto failed;
    }

    /* every thread inherits the mask: only sigwait() below sees these */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    conf = acmev_conf_acquire();

    /* before the workers: a port in use is a start-up error */
    if (conf->metrics_addrlen != 0
        && acmev_metrics_start((struct sockaddr *) &conf->metrics_addr,
                               conf->metrics_addrlen, &acmev_quit)
           != ACMEV_OK)
    {
        goto failed;
    }

    if (acmev_heartbeat_start(&hb, &acmev_quit) != ACMEV_OK) {
        goto failed;
    }

    hb_started = 1;

    workers = calloc(conf->workers, sizeof(acmev_worker_t));
    if (workers == NULL) {
        acmev_log(LOG_ERR, "out of memory");
        goto failed;
    }

    acmev_log(LOG_NOTICE, "%s started: %d workers, consumer \"%s\"",
              ACMEV_NAME, conf->workers, conf->consumer);

    for (i = 0; i < (size_t) conf->workers; i++) {
        if (acmev_worker_start(&workers[i], (int) i, &acmev_quit)
            != ACMEV_OK)
        {
            goto failed;
        }

        nstarted++;
    }

    acmev_conf_release(conf);
    conf = NULL;

    for ( ;; ) {
        if (sigwait(&set, &sig) != 0) {
            continue;
        }

        if (sig == SIGHUP) {
            (void) acmev_reload(path);
            continue;
        }

        acmev_log(LOG_NOTICE, "signal %d: finishing jobs in hand", sig);
        break;
    }

    rc = 0;

failed:

    atomic_store(&acmev_quit, 1);

    for (i = 0; i < nstarted; i++) {
        acmev_worker_join(&workers[i]);
    }

    if (hb_started) {
        acmev_heartbeat_join(&hb);
    }

    acmev_metrics_join();

    free(workers);
    acmev_conf_release(conf);

    if (rc == 0) {
        acmev_log(LOG_NOTICE, "%s stopped", ACMEV_NAME);
    }

    acmev_conf_publish(NULL);

    curl_global_cleanup();

    if (pidfile != NULL) {
        unlink(pidfile);
    }

    return rc;
}


/* SIGHUP: a bad file keeps the running configuration */
static int
acmev_reload(const char *path)
{
    int            rc;
    char           err[ACMEV_CONF_ERR_MAX];
    acmev_conf_t  *next, *cur;

    next = acmev_conf_load(path, err, sizeof(err));
    if (next == NULL || acmev_main_anchor(next, err, sizeof(err)) != ACMEV_OK)
    {
        acmev_log(LOG_ERR, "reload: %s; keeping the running configuration",
                  err);
        acmev_conf_free(next);
        return ACMEV_EINVAL;
    }

    cur = acmev_conf_acquire();
    rc = acmev_conf_reload(next, cur);
    acmev_conf_release(cur);

    if (rc != ACMEV_OK) {
        acmev_log(LOG_ERR, "reload: out of memory");
        acmev_conf_free(next);
        return rc;
    }

    acmev_conf_publish(next);

    acmev_log(LOG_NOTICE, "reloaded %s: %zu resolvers, timeout %d s, "
              "log level %s, %zu CAA identities, DNSSEC %s", path,
              next->nresolvers, next->timeout,
              acmev_log_level_name(next->log_level), next->ncaa_ids,
              next->dnssec_trust_anchor ? next->dnssec_trust_anchor : "off");

    if (next->ncaa_ids == 0) {
        acmev_log(LOG_WARNING, "caa_identities is not set: CAA records "
                  "are not checked");
    }

    return ACMEV_OK;
}


/*
 * the trust anchors become part of the configuration; a file that does
 * not load stops start-up or a reload
 */
static int
acmev_main_anchor(acmev_conf_t *conf, char *err, size_t errlen)
{
    int   rc;
    char  why[ACMEV_CONF_ERR_MAX];

    rc = acmev_dnssec_anchor_load(conf, why, sizeof(why));

    if (rc != ACMEV_OK) {
        snprintf(err, errlen, "dnssec_trust_anchor: %.*s",
                 (int) (errlen > 24 ? errlen - 24 : 0), why);
        return rc;
    }

    if (conf->dnssec_trust_anchor != NULL) {
        acmev_log(LOG_NOTICE, "DNSSEC validation on: %zu trust anchor%s "
                  "from %s", conf->ndnssec_ta,
                  conf->ndnssec_ta == 1 ? "" : "s",
                  conf->dnssec_trust_anchor);
    }

    return ACMEV_OK;
}


static int
acmev_pidfile_write(const char *path)
{
    int   fd, n;
    char  buf[32];

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        acmev_log(LOG_ERR, "open(\"%s\") failed: %s", path, strerror(errno));
        return ACMEV_EIO;
    }

    n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());

    if (write(fd, buf, n) != n) {
        acmev_log(LOG_ERR, "write(\"%s\") failed: %s", path, strerror(errno));
        close(fd);
        return ACMEV_EIO;
    }

    close(fd);

    return ACMEV_OK;
}


static void
acmev_usage(FILE *f, const char *prog)
{
    fprintf(f,
"NAME\n"
"    %s - ACME (RFC 8555) challenge validator of nginx-acme-server\n"
"\n"
"SYNOPSIS\n"
"    %s [-c FILE] [-f | -d] [-p PIDFILE] [-t] [-h]\n"
"\n"
"DESCRIPTION\n"
"    Reads validation jobs from the Redis stream \"acme:validations\"\n"
"    (consumer group \"validators\"), checks each challenge (http-01\n"
"    and dns-01, RFC 8555 8.3 and 8.4; tls-alpn-01, RFC 8737), then the\n"
"    CAA records of the name (RFC 8659, RFC 8657) when caa_identities is\n"
"    set, and records the result in PostgreSQL; a job is acknowledged\n"
"    only after its result is committed.  Several validators may share\n"
"    one stream.\n"
"\n"
"OPTIONS\n"
"    -c FILE     configuration file (default %s)\n"
"    -f          stay in the foreground, log to stderr (default)\n"
"    -d          daemonize, log to syslog (facility daemon)\n"
"    -p PIDFILE  write the process id to PIDFILE, removed on exit\n"
"    -t          check the configuration and exit\n"
"    -h          this text\n"
"\n"
"MONITORING\n"
"    Every %d s, \"SET acme:validator:heartbeat <unix time> EX %d\" and\n"
"    the same for \"acme:validator:heartbeat:<consumer>\" in Redis.  With\n"
"    metrics_listen set, GET /metrics on that address answers in the\n"
"    Prometheus text format: acme_validator_validations_total{type,\n"
"    result,problem}, acme_validator_validation_duration_seconds{type},\n"
"    acme_validator_queue_lag_seconds, acme_validator_errors_total{kind},\n"
"    acme_validator_reclaimed_jobs_total,\n"
"    acme_validator_requeued_challenges_total,\n"
"    acme_validator_orders_recovered_total and others.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT  stop reading jobs, finish those in hand, exit 0\n"
"    SIGHUP           re-read FILE; the options marked below change at\n"
"                     once, the others keep their value until restart;\n"
"                     a bad file keeps the running configuration\n"
"\n"
"CONFIGURATION\n"
"    Lines of \"key = value\"; a line starting with # is a comment.\n"
"\n",
            prog, prog, ACMEV_CONF_DEFAULT_PATH, ACMEV_HEARTBEAT_INTERVAL,
            ACMEV_HEARTBEAT_TTL);

    acmev_conf_usage(f);

    fprintf(f,
"\n"
"EXIT STATUS\n"
"    0 after a signal-requested stop or -h/-t, 1 on a configuration or\n"
"    start-up error, 2 on bad arguments.\n");
}
