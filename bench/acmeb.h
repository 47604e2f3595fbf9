/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: a load generator for any ACME (RFC 8555) server.  Shared
 * types of the tool: options, per-thread workers, statistics, keys.
 */

#ifndef ACMEB_H
#define ACMEB_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <pthread.h>
#include <openssl/evp.h>


#define ACMEB_URL_MAX        512
#define ACMEB_NONCE_MAX      256
#define ACMEB_THUMB_LEN      43
#define ACMEB_MAX_PIDS       64
#define ACMEB_MAX_PROBLEMS   32


typedef enum {
    ACMEB_MODE_NONCE = 0,
    ACMEB_MODE_DIRECTORY,
    ACMEB_MODE_ACCOUNT,
    ACMEB_MODE_AUTHED,
    ACMEB_MODE_ISSUE
} acmeb_mode_e;


/* steps of an operation whose latency is reported separately */
typedef enum {
    ACMEB_STEP_NEW_ORDER = 0,
    ACMEB_STEP_AUTHZ,
    ACMEB_STEP_CHALLENGE,
    ACMEB_STEP_VALIDATE,
    ACMEB_STEP_FINALIZE,
    ACMEB_STEP_ISSUE_WAIT,
    ACMEB_STEP_CERT,
    ACMEB_STEP_TOTAL,
    ACMEB_STEP_N
} acmeb_step_e;


typedef struct {
    char               *directory;
    char               *cacert;
    char               *domain;
    char               *http01_listen;
    char               *json;
    char               *label;
    acmeb_mode_e        mode;
    int                 concurrency;
    int                 threads;
    double              duration;         /* seconds, 0: use count */
    long                count;            /* 0: use duration */
    double              stall;            /* seconds without progress */
    double              retry_after_cap;  /* seconds */
    int                 ignore_retry_after;
    int                 poll_ms;          /* first poll interval */
    int                 npids;
    int                 pids[ACMEB_MAX_PIDS];
    int                 verbose;
} acmeb_opts_t;


/* URLs of the directory (RFC 8555 7.1.1) */
typedef struct {
    char                new_nonce[ACMEB_URL_MAX];
    char                new_account[ACMEB_URL_MAX];
    char                new_order[ACMEB_URL_MAX];
} acmeb_dir_t;


/* latency samples in microseconds, grown by doubling */
typedef struct {
    uint32_t           *v;
    size_t              n;
    size_t              cap;
} acmeb_samples_t;


typedef struct {
    char                type[96];
    long                count;
} acmeb_problem_count_t;


typedef struct {
    acmeb_samples_t     steps[ACMEB_STEP_N];
    long                ops;
    long                errors;
    long                requests;
    long                bad_nonce;
    long                retry_after_waits;
    double              retry_after_sum;
    long                polls;
    int                 nproblems;
    acmeb_problem_count_t problems[ACMEB_MAX_PROBLEMS];
} acmeb_stats_t;


typedef struct acmeb_worker_s  acmeb_worker_t;


/* shared run state, owned by main */
typedef struct {
    acmeb_opts_t       *opts;
    acmeb_dir_t         dir;
    atomic_long         completed;      /* ops completed in the window */
    atomic_long         started;        /* ops started (count mode) */
    atomic_long         failed;         /* ops failed in the window */
    atomic_int          ready;          /* workers done with set-up */
    atomic_int          go;             /* measurement started */
    atomic_int          stop;           /* stop starting new ops */
    atomic_int          abort;          /* abandon in-flight ops */
    atomic_int          setup_failed;
    double              t_start;
} acmeb_run_t;


/* CPU and memory of a set of processes and their descendants at one
 * moment (bench/acmeb_proc.c) */
typedef struct acmeb_proc_s  acmeb_proc_t;


/* acmeb_util.c */
double acmeb_now(void);
void acmeb_samples_add(acmeb_samples_t *s, double seconds);
void acmeb_samples_merge(acmeb_samples_t *dst, acmeb_samples_t *src);
void acmeb_samples_sort(acmeb_samples_t *s);
double acmeb_samples_pct(acmeb_samples_t *s, double pct);
void acmeb_samples_free(acmeb_samples_t *s);
void acmeb_stats_problem(acmeb_stats_t *st, const char *type);
void acmeb_stats_merge(acmeb_stats_t *dst, acmeb_stats_t *src);
void acmeb_stats_free(acmeb_stats_t *st);
const char *acmeb_step_name(acmeb_step_e step);

/* acmeb_crypto.c */
EVP_PKEY *acmeb_key_new(void);
int acmeb_key_jwk(EVP_PKEY *key, char *jwk, size_t size, char *thumb);
char *acmeb_jws(EVP_PKEY *key, const char *jwk, const char *kid,
    const char *nonce, const char *url, const char *payload);
char *acmeb_csr_b64u(const char *name);
int acmeb_chain_check(const char *pem, size_t len, const char *name,
    char *err, size_t errsize);

/* acmeb_responder.c */
int acmeb_responder_start(const char *listen);
void acmeb_responder_stop(void);
int acmeb_responder_add(const char *token, const char *keyauth);
void acmeb_responder_del(const char *token);
long acmeb_responder_served(void);

/* acmeb_proc.c */
acmeb_proc_t *acmeb_proc_take(const int *pids, int npids);
double acmeb_proc_cpu_between(acmeb_proc_t *a, acmeb_proc_t *b);
long acmeb_proc_hwm_kb(acmeb_proc_t *p);
long acmeb_proc_rss_kb(acmeb_proc_t *p);
int acmeb_proc_count(acmeb_proc_t *p);
void acmeb_proc_free(acmeb_proc_t *p);

/* acmeb_client.c */
acmeb_worker_t *acmeb_worker_new(acmeb_run_t *run, int id, int nclients);
void *acmeb_worker_main(void *arg);
acmeb_stats_t *acmeb_worker_stats(acmeb_worker_t *w);
void acmeb_worker_free(acmeb_worker_t *w);
int acmeb_fetch_directory(acmeb_opts_t *opts, acmeb_dir_t *dir);


#endif /* ACMEB_H */
