/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: a load generator for any ACME (RFC 8555) server.
 *
 *   acme-bench --directory URL [--cacert FILE] --mode MODE
 *       [--concurrency N] [--duration S | --count N] [--threads T]
 *       [--http01-listen ADDR:PORT[,ADDR:PORT]] [--domain D]
 *       [--json FILE] [--label NAME] [--pids PID,...] [--stall S]
 *
 * Exit status: 0 after a run, 1 on bad usage or a failed set-up, 3 when
 * the run stopped making progress (no operation completed for --stall
 * seconds).
 */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "acmeb.h"


#define ACMEB_EXIT_USAGE   1
#define ACMEB_EXIT_STALL   3


typedef struct {
    double              elapsed;
    double              cpu;
    long                hwm_before;
    long                hwm_after;
    long                rss_before;
    long                rss_after;
    int                 nprocs;
    int                 stalled;
    const char         *stall_phase;
} acmeb_result_t;


static void acmeb_usage(void);
static int acmeb_parse_pids(acmeb_opts_t *o, char *list);
static int acmeb_parse_mode(const char *s, acmeb_mode_e *mode);
static void acmeb_report(acmeb_opts_t *o, acmeb_stats_t *st,
    acmeb_result_t *r);
static void acmeb_report_json(acmeb_opts_t *o, acmeb_stats_t *st,
    acmeb_result_t *r);
static void acmeb_sleep(double s);
static void acmeb_on_signal(int sig);


static const char  *acmeb_mode_names[] = {
    "nonce", "directory", "account", "authed", "issue"
};

static volatile sig_atomic_t  acmeb_interrupted;


static struct option  acmeb_options[] = {
    { "directory",          required_argument, NULL, 'd' },
    { "cacert",             required_argument, NULL, 'C' },
    { "mode",               required_argument, NULL, 'm' },
    { "concurrency",        required_argument, NULL, 'c' },
    { "threads",            required_argument, NULL, 't' },
    { "duration",           required_argument, NULL, 'D' },
    { "count",              required_argument, NULL, 'n' },
    { "http01-listen",      required_argument, NULL, 'H' },
    { "domain",             required_argument, NULL, 'o' },
    { "json",               required_argument, NULL, 'j' },
    { "label",              required_argument, NULL, 'l' },
    { "pids",               required_argument, NULL, 'p' },
    { "stall",              required_argument, NULL, 's' },
    { "poll-ms",            required_argument, NULL, 'P' },
    { "retry-after-cap",    required_argument, NULL, 'R' },
    { "ignore-retry-after", no_argument,       NULL, 'I' },
    { "verbose",            no_argument,       NULL, 'v' },
    { "help",               no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static void
acmeb_usage(void)
{
    fprintf(stderr,
"usage: acme-bench --directory URL --mode MODE [options]\n"
"  --directory URL         ACME directory (RFC 8555 7.1.1)\n"
"  --cacert FILE           CA bundle for the server's TLS certificate\n"
"  --mode MODE             nonce | directory | account | authed | issue\n"
"  --concurrency N         concurrent clients (default 1)\n"
"  --threads T             client threads (default 1)\n"
"  --duration S            measure for S seconds (default 10)\n"
"  --count N               or stop after N operations\n"
"  --http01-listen A:P     http-01 responder, e.g. 127.0.0.1:5002\n"
"                          (comma-separated for several; issue mode)\n"
"  --domain D              orders name <random>.D (default example.test)\n"
"  --json FILE             append the result as one JSON line\n"
"  --label NAME            name of the server in the report\n"
"  --pids PID,...          server processes (with their children) whose\n"
"                          CPU time and peak RSS are reported per op\n"
"  --stall S               give up when no op completes for S s (10)\n"
"  --poll-ms MS            first poll interval, doubling to 1 s (10)\n"
"  --retry-after-cap S     longest Retry-After honoured (10)\n"
"  --ignore-retry-after    poll at --poll-ms even when told to wait\n"
"  --verbose               print every error\n");
}


static int
acmeb_parse_mode(const char *s, acmeb_mode_e *mode)
{
    int  i;

    for (i = 0; i <= ACMEB_MODE_ISSUE; i++) {
        if (strcmp(s, acmeb_mode_names[i]) == 0) {
            *mode = (acmeb_mode_e) i;
            return 0;
        }
    }

    return -1;
}


static int
acmeb_parse_pids(acmeb_opts_t *o, char *list)
{
    char  *tok, *save, *end;
    long   pid;

    for (tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
    {
        if (*tok == '\0') {
            continue;
        }
        pid = strtol(tok, &end, 10);
        if (*end != '\0' || pid <= 0 || o->npids == ACMEB_MAX_PIDS) {
            return -1;
        }
        o->pids[o->npids++] = (int) pid;
    }

    return 0;
}


static void
acmeb_sleep(double s)
{
    struct timespec  ts;

    ts.tv_sec = (time_t) s;
    ts.tv_nsec = (long) ((s - ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}


static void
acmeb_on_signal(int sig)
{
    acmeb_interrupted = 1;
}


int
main(int argc, char **argv)
{
    int                i, ch, n, per, rc;
    long               done, last_done;
    double             now, last_progress, deadline;
    pthread_t         *tids;
    acmeb_run_t        run;
    acmeb_opts_t       o;
    acmeb_stats_t      total;
    acmeb_proc_t      *before, *after;
    acmeb_result_t     r;
    acmeb_worker_t   **w;

    memset(&o, 0, sizeof(o));
    o.domain = "example.test";
    o.concurrency = 1;
    o.threads = 1;
    o.stall = 10;
    o.poll_ms = 10;
    o.retry_after_cap = 10;
    o.mode = ACMEB_MODE_NONCE;

    while ((ch = getopt_long(argc, argv, "d:C:m:c:t:D:n:H:o:j:l:p:s:P:R:Ivh",
                             acmeb_options, NULL)) != -1) {
        switch (ch) {
        case 'd': o.directory = optarg; break;
        case 'C': o.cacert = optarg; break;
        case 'c': o.concurrency = atoi(optarg); break;
        case 't': o.threads = atoi(optarg); break;
        case 'D': o.duration = atof(optarg); break;
        case 'n': o.count = atol(optarg); break;
        case 'H': o.http01_listen = optarg; break;
        case 'o': o.domain = optarg; break;
        case 'j': o.json = optarg; break;
        case 'l': o.label = optarg; break;
        case 's': o.stall = atof(optarg); break;
        case 'P': o.poll_ms = atoi(optarg); break;
        case 'R': o.retry_after_cap = atof(optarg); break;
        case 'I': o.ignore_retry_after = 1; break;
        case 'v': o.verbose = 1; break;

        case 'm':
            if (acmeb_parse_mode(optarg, &o.mode) != 0) {
                fprintf(stderr, "acme-bench: unknown mode \"%s\"\n", optarg);
                return ACMEB_EXIT_USAGE;
            }
            break;

        case 'p':
            if (acmeb_parse_pids(&o, optarg) != 0) {
                fprintf(stderr, "acme-bench: bad --pids\n");
                return ACMEB_EXIT_USAGE;
            }
            break;

        default:
            acmeb_usage();
            return ACMEB_EXIT_USAGE;
        }
    }

    if (o.directory == NULL || o.concurrency < 1 || o.threads < 1
        || o.stall <= 0 || o.poll_ms < 1)
    {
        acmeb_usage();
        return ACMEB_EXIT_USAGE;
    }

    if (o.duration <= 0 && o.count <= 0) {
        o.duration = 10;
    }

    if (o.threads > o.concurrency) {
        o.threads = o.concurrency;
    }

    if (o.mode == ACMEB_MODE_ISSUE && o.http01_listen == NULL) {
        fprintf(stderr, "acme-bench: issue mode needs --http01-listen\n");
        return ACMEB_EXIT_USAGE;
    }

    if (o.label == NULL) {
        o.label = o.directory;
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, acmeb_on_signal);
    signal(SIGTERM, acmeb_on_signal);

    curl_global_init(CURL_GLOBAL_DEFAULT);

    memset(&run, 0, sizeof(run));
    run.opts = &o;

    if (acmeb_fetch_directory(&o, &run.dir) != 0) {
        return ACMEB_EXIT_USAGE;
    }

    if (o.mode == ACMEB_MODE_ISSUE
        && acmeb_responder_start(o.http01_listen) != 0)
    {
        return ACMEB_EXIT_USAGE;
    }

    w = calloc(o.threads, sizeof(acmeb_worker_t *));
    tids = calloc(o.threads, sizeof(pthread_t));
    if (w == NULL || tids == NULL) {
        return ACMEB_EXIT_USAGE;
    }

    per = o.concurrency / o.threads;
    for (i = 0; i < o.threads; i++) {
        n = per + (i < o.concurrency % o.threads);
        w[i] = acmeb_worker_new(&run, i, n);
        if (w[i] == NULL) {
            fprintf(stderr, "acme-bench: out of memory\n");
            return ACMEB_EXIT_USAGE;
        }
        if (pthread_create(&tids[i], NULL, acmeb_worker_main, w[i]) != 0) {
            fprintf(stderr, "acme-bench: pthread_create() failed\n");
            return ACMEB_EXIT_USAGE;
        }
    }

    memset(&r, 0, sizeof(r));
    rc = 0;
    before = NULL;
    after = NULL;

    /* set-up: nonces, accounts, warm connections */
    deadline = acmeb_now() + o.stall + o.concurrency * 0.05;
    while (atomic_load(&run.ready) < o.threads) {
        if (atomic_load(&run.setup_failed) || acmeb_interrupted
            || acmeb_now() > deadline)
        {
            fprintf(stderr, "acme-bench: set-up of %d clients %s\n",
                    o.concurrency,
                    atomic_load(&run.setup_failed) ? "failed"
                                                   : "made no progress");
            r.stalled = 1;
            r.stall_phase = "setup";
            rc = atomic_load(&run.setup_failed) ? ACMEB_EXIT_USAGE
                                                : ACMEB_EXIT_STALL;
            atomic_store(&run.abort, 1);
            goto join;
        }
        acmeb_sleep(0.005);
    }

    before = acmeb_proc_take(o.pids, o.npids);
    run.t_start = acmeb_now();
    atomic_store(&run.go, 1);

    last_done = 0;
    last_progress = run.t_start;

    for ( ;; ) {
        acmeb_sleep(0.01);
        now = acmeb_now();
        done = atomic_load(&run.completed);

        if (done != last_done) {
            last_done = done;
            last_progress = now;
        }

        if (o.duration > 0 && now - run.t_start >= o.duration) {
            break;
        }

        if (o.count > 0
            && done + atomic_load(&run.failed) >= o.count)
        {
            break;
        }

        if (acmeb_interrupted) {
            break;
        }

        if (now - last_progress >= o.stall) {
            r.stalled = 1;
            r.stall_phase = "run";
            rc = ACMEB_EXIT_STALL;
            fprintf(stderr,
                    "acme-bench: STALLED: no %s operation completed for "
                    "%.1f s (%ld done, %ld failed)\n",
                    acmeb_mode_names[o.mode], now - last_progress, done,
                    atomic_load(&run.failed));
            break;
        }
    }

    atomic_store(&run.stop, 1);
    r.elapsed = acmeb_now() - run.t_start;
    after = acmeb_proc_take(o.pids, o.npids);

join:

    atomic_store(&run.stop, 1);

    for (i = 0; i < o.threads; i++) {
        pthread_join(tids[i], NULL);
    }

    memset(&total, 0, sizeof(total));
    for (i = 0; i < o.threads; i++) {
        acmeb_stats_merge(&total, acmeb_worker_stats(w[i]));
    }

    if (before && after) {
        r.cpu = acmeb_proc_cpu_between(before, after);
        r.hwm_before = acmeb_proc_hwm_kb(before);
        r.hwm_after = acmeb_proc_hwm_kb(after);
        r.rss_before = acmeb_proc_rss_kb(before);
        r.rss_after = acmeb_proc_rss_kb(after);
        r.nprocs = acmeb_proc_count(after);
    }

    for (i = 0; i < ACMEB_STEP_N; i++) {
        acmeb_samples_sort(&total.steps[i]);
    }

    acmeb_report(&o, &total, &r);

    if (o.json) {
        acmeb_report_json(&o, &total, &r);
    }

    acmeb_responder_stop();

    for (i = 0; i < o.threads; i++) {
        acmeb_worker_free(w[i]);
    }

    acmeb_stats_free(&total);
    acmeb_proc_free(before);
    acmeb_proc_free(after);
    free(w);
    free(tids);
    curl_global_cleanup();

    return rc;
}


static void
acmeb_report(acmeb_opts_t *o, acmeb_stats_t *st, acmeb_result_t *r)
{
    int               i, first;
    acmeb_samples_t  *s;

    printf("acme-bench: %s, mode %s, concurrency %d, %.1f s\n", o->label,
           acmeb_mode_names[o->mode], o->concurrency, r->elapsed);

    printf("  ops        %ld ok, %ld failed, %.1f ops/s; %ld requests "
           "(%.1f per op), %ld badNonce retries\n",
           st->ops, st->errors, r->elapsed > 0 ? st->ops / r->elapsed : 0,
           st->requests, st->ops ? (double) st->requests / st->ops : 0,
           st->bad_nonce);

    for (i = 0; i < ACMEB_STEP_N; i++) {
        s = &st->steps[i];
        if (s->n == 0) {
            continue;
        }
        printf("  %-10s p50 %8.2f  p95 %8.2f  p99 %8.2f ms  (n=%zu)\n",
               acmeb_step_name(i), acmeb_samples_pct(s, 50) * 1e3,
               acmeb_samples_pct(s, 95) * 1e3,
               acmeb_samples_pct(s, 99) * 1e3, s->n);
    }

    if (st->polls) {
        printf("  polls      %ld (%.1f per op), %ld Retry-After waits "
               "(%.2f s on average)\n", st->polls,
               st->ops ? (double) st->polls / st->ops : 0,
               st->retry_after_waits,
               st->retry_after_waits
               ? st->retry_after_sum / st->retry_after_waits : 0);
    }

    if (o->npids) {
        printf("  server     %.2f CPU s (%.3f ms/op) in %d processes; "
               "peak RSS %ld -> %ld MB, RSS %ld -> %ld MB\n",
               r->cpu, st->ops ? r->cpu * 1e3 / st->ops : 0, r->nprocs,
               r->hwm_before / 1024, r->hwm_after / 1024,
               r->rss_before / 1024, r->rss_after / 1024);
    }

    first = 1;
    for (i = 0; i < st->nproblems; i++) {
        printf("%s%s: %ld", first ? "  errors     " : ", ",
               st->problems[i].type, st->problems[i].count);
        first = 0;
    }
    if (!first) {
        printf("\n");
    }

    if (r->stalled) {
        printf("  STALLED    no progress for %.0f s (%s)\n", o->stall,
               r->stall_phase);
    }

    fflush(stdout);
}


static void
acmeb_report_json(acmeb_opts_t *o, acmeb_stats_t *st, acmeb_result_t *r)
{
    int               i;
    FILE             *fp;
    acmeb_samples_t  *s;

    fp = fopen(o->json, "a");
    if (fp == NULL) {
        perror(o->json);
        return;
    }

    /* labels and problem types are plain tokens and URLs: no escaping */
    fprintf(fp, "{\"label\":\"%s\",\"directory\":\"%s\",\"mode\":\"%s\","
            "\"concurrency\":%d,\"threads\":%d,\"elapsed\":%.3f,"
            "\"ops\":%ld,\"errors\":%ld,\"ops_per_s\":%.2f,"
            "\"requests\":%ld,\"bad_nonce\":%ld,\"polls\":%ld,"
            "\"retry_after_waits\":%ld,\"stalled\":%s,",
            o->label, o->directory, acmeb_mode_names[o->mode],
            o->concurrency, o->threads, r->elapsed, st->ops, st->errors,
            r->elapsed > 0 ? st->ops / r->elapsed : 0, st->requests,
            st->bad_nonce, st->polls, st->retry_after_waits,
            r->stalled ? "true" : "false");

    fprintf(fp, "\"server\":{\"pids\":%d,\"procs\":%d,\"cpu_s\":%.3f,"
            "\"cpu_ms_per_op\":%.4f,\"hwm_kb_before\":%ld,"
            "\"hwm_kb_after\":%ld,\"rss_kb_before\":%ld,"
            "\"rss_kb_after\":%ld},",
            o->npids, r->nprocs, r->cpu,
            st->ops ? r->cpu * 1e3 / st->ops : 0,
            r->hwm_before, r->hwm_after, r->rss_before, r->rss_after);

    fprintf(fp, "\"latency_ms\":{");
    for (i = 0; i < ACMEB_STEP_N; i++) {
        s = &st->steps[i];
        fprintf(fp, "%s\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p95\":%.3f,"
                "\"p99\":%.3f}", i ? "," : "", acmeb_step_name(i), s->n,
                acmeb_samples_pct(s, 50) * 1e3,
                acmeb_samples_pct(s, 95) * 1e3,
                acmeb_samples_pct(s, 99) * 1e3);
    }

    fprintf(fp, "},\"problems\":{");
    for (i = 0; i < st->nproblems; i++) {
        fprintf(fp, "%s\"%s\":%ld", i ? "," : "", st->problems[i].type,
                st->problems[i].count);
    }
    fprintf(fp, "}}\n");

    fclose(fp);
}
