/*
 * Copyright (C) nginx-acme-server authors
 *
 * Validator configuration.  The file is lines of "key = value"; '#' starts
 * a comment, blank lines are ignored.  Every option is described once, in
 * the descriptor table of acmev_conf.c (name, type, default, help), which
 * also drives the defaults, the -h text and SIGHUP reload.
 */

#ifndef ACMEV_CONF_H
#define ACMEV_CONF_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>


#define ACMEV_RESOLVERS_MAX  8
#define ACMEV_CAA_IDS_MAX    16
#define ACMEV_CONF_ERR_MAX   256

#define ACMEV_CONF_DEFAULT_PATH  "/etc/nginx-acme-server/validator.conf"


/* a DNS resolver: "192.0.2.1", "192.0.2.1:5353", "::1", "[::1]:5353" */
typedef struct {
    int          family;                     /* AF_INET or AF_INET6 */
    char         addr[INET6_ADDRSTRLEN];
    uint16_t     port;
} acmev_ns_t;

typedef struct {
    char        *database;       /* libpq conninfo */
    char        *redis;          /* "host:port", "[v6]:port" or "/path" */
    char        *redis_host;     /* derived from redis */
    int          redis_port;     /* derived; 0 for a unix socket */
    acmev_ns_t   resolvers[ACMEV_RESOLVERS_MAX];
    size_t       nresolvers;
    int          http01_port;
    int          tls_alpn01_port;
    char        *caa_ids[ACMEV_CAA_IDS_MAX];   /* lowercase domain names */
    size_t       ncaa_ids;       /* 0: CAA is not checked */
    char        *account_uri_prefix;   /* NULL: accounturi never matches */
    int          allow_private;
    int          workers;
    int          timeout;        /* seconds, each network step */
    int          log_level;      /* LOG_ERR .. LOG_DEBUG */
    char        *consumer;       /* Redis stream consumer name prefix */
    int          reclaim_idle;   /* seconds */
    char        *metrics_listen; /* "ip:port", "[ipv6]:port"; NULL: off */
    char        *dnssec_trust_anchor;   /* file path; NULL: no validation */
    char       **dnssec_ta;      /* the file's DS/DNSKEY records as text,
                                    acmev_dnssec_anchor_load() */
    size_t       ndnssec_ta;

    /* derived from metrics_listen; metrics_addrlen 0: no endpoint */
    struct sockaddr_storage  metrics_addr;
    socklen_t                metrics_addrlen;

    unsigned long  serial;       /* distinct for every acmev_conf_new() */
    int          refs;           /* acmev_conf_acquire() references */
} acmev_conf_t;


/*
 * acmev_conf_new(): a configuration holding every option's default.  New
 * object, caller frees with acmev_conf_free(); NULL on allocation failure.
 * acmev_conf_free(NULL) is a no-op.
 */
acmev_conf_t *acmev_conf_new(void);
void acmev_conf_free(acmev_conf_t *conf);

/*
 * acmev_conf_parse(): applies the "key = value" lines of text (len bytes,
 * need not be NUL-terminated) to conf.  source names the text in messages.
 * Returns ACMEV_OK, ACMEV_EINVAL (err holds "source:line: reason") or
 * ACMEV_ENOMEM.  A repeated option is an error except "resolver" and
 * "caa_identities", which accumulate.
 */
int acmev_conf_parse(acmev_conf_t *conf, const char *text, size_t len,
    const char *source, char *err, size_t errlen);

/*
 * acmev_conf_check(): after parsing, checks required options and fills in
 * derived values (redis host and port, default consumer "hostname-pid",
 * the metrics_listen socket address).
 * ACMEV_OK, ACMEV_EINVAL (err filled) or ACMEV_ENOMEM.
 */
int acmev_conf_check(acmev_conf_t *conf, char *err, size_t errlen);

/*
 * acmev_conf_file_read(): the file at path, which must be a regular file
 * (opened without blocking, so that a FIFO cannot stop start-up or a
 * reload) of at most max bytes, read whole into *buf (malloc'ed, NUL
 * added; caller frees) of *len bytes.  ACMEV_OK; ACMEV_EINVAL with err
 * ("path: reason"); ACMEV_ENOMEM.
 */
int acmev_conf_file_read(const char *path, size_t max, char **buf,
    size_t *len, char *err, size_t errlen);

/*
 * acmev_conf_load(): acmev_conf_new() + the file at path + check.  Returns
 * a new configuration (caller frees) or NULL with err filled.
 */
acmev_conf_t *acmev_conf_load(const char *path, char *err, size_t errlen);

/*
 * acmev_conf_reload(): copies into next the options that cannot change at
 * run time (database, redis, workers, consumer, metrics_listen) from cur,
 * and logs a warning for each one whose value differs.  Both borrowed.
 * ACMEV_OK or ACMEV_ENOMEM.
 */
int acmev_conf_reload(acmev_conf_t *next, const acmev_conf_t *cur);

/* writes the option table (name, default, help) for -h */
void acmev_conf_usage(FILE *f);

/*
 * The running configuration, shared by worker threads.
 * acmev_conf_publish() takes ownership of conf and makes it current (the
 * previous one is freed once its last user released it); NULL drops the
 * current one at exit.  acmev_conf_acquire() returns the current one (or
 * NULL), borrowed until the matching acmev_conf_release(); a worker holds
 * it for one job so that a reload never changes a check midway.
 */
void acmev_conf_publish(acmev_conf_t *conf);
acmev_conf_t *acmev_conf_acquire(void);
void acmev_conf_release(acmev_conf_t *conf);


#endif /* ACMEV_CONF_H */
