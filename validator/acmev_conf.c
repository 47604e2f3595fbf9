/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_conf.h"


#define ACMEV_CONF_LINE_MAX   1024
#define ACMEV_CONF_FILE_MAX   (256 * 1024)
#define ACMEV_REDIS_PORT      6379
#define ACMEV_DNS_PORT        53

/* option flags */
#define ACMEV_OPT_RELOAD      0x01   /* SIGHUP applies a new value */
#define ACMEV_OPT_MULTI       0x02   /* may be repeated, values accumulate */
#define ACMEV_OPT_REQUIRED    0x04
#define ACMEV_OPT_UNSET       0x08   /* no default: the feature is off */


typedef enum {
    ACMEV_OPT_STR = 0,
    ACMEV_OPT_INT,
    ACMEV_OPT_BOOL,
    ACMEV_OPT_LEVEL,
    ACMEV_OPT_RESOLVER,
    ACMEV_OPT_CAA_IDS
} acmev_opt_type_e;

typedef struct {
    const char        *name;
    acmev_opt_type_e   type;
    size_t             offset;
    const char        *def;          /* NULL: no default */
    int                min;          /* ACMEV_OPT_INT range */
    int                max;
    unsigned           flags;
    const char        *help;
} acmev_opt_t;


static int acmev_conf_set(acmev_conf_t *conf, const acmev_opt_t *opt,
    const char *value, char *err, size_t errlen);
static int acmev_conf_resolver(acmev_conf_t *conf, const char *value,
    char *err, size_t errlen);
static int acmev_conf_caa_ids(acmev_conf_t *conf, const char *value,
    char *err, size_t errlen);
static int acmev_conf_domain(const char *name, size_t len);
static int acmev_conf_redis(acmev_conf_t *conf, char *err, size_t errlen);
static int acmev_conf_listen(acmev_conf_t *conf, char *err, size_t errlen);
static int acmev_conf_is_set(const acmev_conf_t *conf,
    const acmev_opt_t *opt);
static char *acmev_conf_trim(char *s);


/* the one description of every option (redis/redis: src/config.c) */
static const acmev_opt_t  acmev_opts[] = {

    { "database", ACMEV_OPT_STR, offsetof(acmev_conf_t, database),
      NULL, 0, 0, ACMEV_OPT_REQUIRED,
      "libpq conninfo string or URI of the CA database" },

    { "redis", ACMEV_OPT_STR, offsetof(acmev_conf_t, redis),
      "127.0.0.1:6379", 0, 0, 0,
      "Redis server: host:port, [ipv6]:port or /path/to/unix.sock" },

    { "resolver", ACMEV_OPT_RESOLVER, 0,
      NULL, 0, 0,
      ACMEV_OPT_RELOAD | ACMEV_OPT_MULTI | ACMEV_OPT_REQUIRED,
      "recursive DNS resolver, ip or ip:port ([ipv6]:port); repeat for "
      "more, tried in order" },

    { "http01_port", ACMEV_OPT_INT, offsetof(acmev_conf_t, http01_port),
      "80", 1, 65535, ACMEV_OPT_RELOAD,
      "port of http-01 requests (RFC 8555 8.3: 80; change only in tests)" },

    { "tls_alpn01_port", ACMEV_OPT_INT,
      offsetof(acmev_conf_t, tls_alpn01_port),
      "443", 1, 65535, ACMEV_OPT_RELOAD,
      "port of tls-alpn-01 connections (RFC 8737 3: 443; change only in "
      "tests)" },

    { "caa_identities", ACMEV_OPT_CAA_IDS, 0,
      NULL, 0, 0, ACMEV_OPT_RELOAD | ACMEV_OPT_MULTI | ACMEV_OPT_UNSET,
      "issuer domain names of this CA in CAA issue/issuewild records "
      "(RFC 8659 4.2), comma-separated or repeated; none: CAA is not "
      "checked" },

    { "account_uri_prefix", ACMEV_OPT_STR,
      offsetof(acmev_conf_t, account_uri_prefix),
      NULL, 0, 0, ACMEV_OPT_RELOAD | ACMEV_OPT_UNSET,
      "account URL without the account id, for CAA accounturi (RFC 8657 "
      "3); \"{ca}\" stands for the CA's location (\"/acme/\"); unset: a "
      "record with accounturi never permits" },

    { "dnssec_trust_anchor", ACMEV_OPT_STR,
      offsetof(acmev_conf_t, dnssec_trust_anchor),
      NULL, 0, 0, ACMEV_OPT_RELOAD | ACMEV_OPT_UNSET,
      "absolute path of a file of DS or DNSKEY trust anchors (e.g. "
      "/usr/share/dns/root.key): DNS answers are validated from them "
      "(RFC 4035), a bogus one fails the check, names no anchor covers "
      "are used as before; unset: no DNSSEC validation" },

    { "allow_private_addresses", ACMEV_OPT_BOOL,
      offsetof(acmev_conf_t, allow_private),
      "no", 0, 1, ACMEV_OPT_RELOAD,
      "yes lets checks connect to loopback, private and reserved "
      "addresses (tests only)" },

    { "workers", ACMEV_OPT_INT, offsetof(acmev_conf_t, workers),
      "4", 1, 256, 0,
      "worker threads, each with its own database and Redis connection" },

    { "timeout", ACMEV_OPT_INT, offsetof(acmev_conf_t, timeout),
      "10", 1, 300, ACMEV_OPT_RELOAD,
      "seconds allowed for each network step (DNS query, HTTP request)" },

    { "log_level", ACMEV_OPT_LEVEL, offsetof(acmev_conf_t, log_level),
      "notice", 0, 0, ACMEV_OPT_RELOAD,
      "error, warn, notice, info or debug" },

    { "consumer", ACMEV_OPT_STR, offsetof(acmev_conf_t, consumer),
      NULL, 0, 0, 0,
      "Redis stream consumer name prefix (default hostname-pid); "
      "worker N uses prefix-N" },

    { "reclaim_idle", ACMEV_OPT_INT, offsetof(acmev_conf_t, reclaim_idle),
      "60", 1, 86400, ACMEV_OPT_RELOAD,
      "seconds after which a job left unacknowledged is claimed again; "
      "a challenge in processing for twice as long is queued again" },

    { "metrics_listen", ACMEV_OPT_STR,
      offsetof(acmev_conf_t, metrics_listen),
      NULL, 0, 0, ACMEV_OPT_UNSET,
      "ip:port or [ipv6]:port of the Prometheus endpoint (GET /metrics, "
      "plain HTTP, no authentication: keep it on loopback or a private "
      "network); unset or off: no endpoint" },
};

#define ACMEV_NOPTS  (sizeof(acmev_opts) / sizeof(acmev_opts[0]))


static pthread_mutex_t  acmev_conf_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong     acmev_conf_serial;
static acmev_conf_t    *acmev_conf_current;


acmev_conf_t *
acmev_conf_new(void)
{
    char           err[ACMEV_CONF_ERR_MAX];
    size_t         i;
    acmev_conf_t  *conf;

    conf = calloc(1, sizeof(acmev_conf_t));
    if (conf == NULL) {
        goto failed;
    }

    conf->serial = atomic_fetch_add(&acmev_conf_serial, 1) + 1;

    for (i = 0; i < ACMEV_NOPTS; i++) {
        if (acmev_opts[i].def == NULL) {
            continue;
        }

        /* defaults go through the same setter as the file's values */
        if (acmev_conf_set(conf, &acmev_opts[i], acmev_opts[i].def,
                           err, sizeof(err))
            != ACMEV_OK)
        {
            goto failed;
        }
    }

    return conf;

failed:

    acmev_conf_free(conf);
    return NULL;
}


void
acmev_conf_free(acmev_conf_t *conf)
{
    size_t  i;

    if (conf == NULL) {
        return;
    }

    free(conf->database);
    free(conf->redis);
    free(conf->redis_host);
    free(conf->consumer);
    free(conf->account_uri_prefix);
    free(conf->metrics_listen);
    free(conf->dnssec_trust_anchor);

    for (i = 0; i < conf->ndnssec_ta; i++) {
        free(conf->dnssec_ta[i]);
    }

    free(conf->dnssec_ta);

    for (i = 0; i < conf->ncaa_ids; i++) {
        free(conf->caa_ids[i]);
    }

    free(conf);
}


int
acmev_conf_parse(acmev_conf_t *conf, const char *text, size_t len,
    const char *source, char *err, size_t errlen)
{
    int                 rc;
    char               *key, *value, *eq;
    char                line[ACMEV_CONF_LINE_MAX];
    char                why[ACMEV_CONF_ERR_MAX];
    size_t              i, n, lineno, pos;
    unsigned char       seen[ACMEV_NOPTS];
    const char         *nl;
    const acmev_opt_t  *opt;

    memset(seen, 0, sizeof(seen));
    why[0] = '\0';
    lineno = 0;
    pos = 0;
    rc = ACMEV_EINVAL;

    while (pos < len) {
        lineno++;

        nl = memchr(text + pos, '\n', len - pos);
        n = (nl ? (size_t) (nl - text) : len) - pos;

        if (n >= sizeof(line)) {
            snprintf(why, sizeof(why), "line longer than %d bytes",
                     ACMEV_CONF_LINE_MAX - 1);
            goto failed;
        }

        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;

        if (memchr(line, '\0', n) != NULL) {
            snprintf(why, sizeof(why), "NUL byte in line");
            goto failed;
        }

        key = acmev_conf_trim(line);

        /* only whole-line comments: '#' may appear in a conninfo value */
        if (*key == '\0' || *key == '#') {
            continue;
        }

        eq = strchr(key, '=');
        if (eq == NULL) {
            snprintf(why, sizeof(why), "expected \"key = value\"");
            goto failed;
        }

        *eq = '\0';
        key = acmev_conf_trim(key);
        value = acmev_conf_trim(eq + 1);

        n = strlen(value);
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
            value[n - 1] = '\0';
            value++;
        }

        opt = NULL;

        for (i = 0; i < ACMEV_NOPTS; i++) {
            if (strcmp(acmev_opts[i].name, key) == 0) {
                opt = &acmev_opts[i];
                break;
            }
        }

        if (opt == NULL) {
            snprintf(why, sizeof(why), "unknown option \"%.64s\"", key);
            goto failed;
        }

        if (seen[i] && !(opt->flags & ACMEV_OPT_MULTI)) {
            snprintf(why, sizeof(why), "duplicate option \"%s\"", key);
            goto failed;
        }

        seen[i] = 1;

        rc = acmev_conf_set(conf, opt, value, why, sizeof(why));
        if (rc != ACMEV_OK) {
            goto failed;
        }

        rc = ACMEV_EINVAL;
    }

    return ACMEV_OK;

failed:

    snprintf(err, errlen, "%s:%zu: %s", source, lineno, why);
    return rc;
}


int
acmev_conf_check(acmev_conf_t *conf, char *err, size_t errlen)
{
    int     rc;
    char    host[256];
    size_t  i, n;

    for (i = 0; i < ACMEV_NOPTS; i++) {
        if ((acmev_opts[i].flags & ACMEV_OPT_REQUIRED)
            && !acmev_conf_is_set(conf, &acmev_opts[i]))
        {
            snprintf(err, errlen, "option \"%s\" is required",
                     acmev_opts[i].name);
            return ACMEV_EINVAL;
        }
    }

    rc = acmev_conf_redis(conf, err, errlen);
    if (rc != ACMEV_OK) {
        return rc;
    }

    rc = acmev_conf_listen(conf, err, errlen);
    if (rc != ACMEV_OK) {
        return rc;
    }

    if (conf->consumer == NULL) {
        if (gethostname(host, sizeof(host)) != 0) {
            strcpy(host, "validator");
        }

        host[sizeof(host) - 1] = '\0';
        n = strlen(host) + 16;

        conf->consumer = malloc(n);
        if (conf->consumer == NULL) {
            snprintf(err, errlen, "out of memory");
            return ACMEV_ENOMEM;
        }

        snprintf(conf->consumer, n, "%s-%d", host, (int) getpid());
    }

    return ACMEV_OK;
}


int
acmev_conf_file_read(const char *path, size_t max, char **buf, size_t *len,
    char *err, size_t errlen)
{
    int          fd;
    char        *b;
    size_t       got;
    ssize_t      n;
    struct stat  sb;

    *buf = NULL;
    *len = 0;

    /* O_NONBLOCK: a FIFO must not stop start-up */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return ACMEV_EINVAL;
    }

    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return ACMEV_EINVAL;
    }

    if ((unsigned long long) sb.st_size > max) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
        close(fd);
        return ACMEV_EINVAL;
    }

    b = malloc((size_t) sb.st_size + 1);
    if (b == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return ACMEV_ENOMEM;
    }

    got = 0;

    while (got < (size_t) sb.st_size) {
        n = read(fd, b + got, (size_t) sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(b);
            close(fd);
            return ACMEV_EINVAL;
        }

        if (n == 0) {
            break;
        }

        got += (size_t) n;
    }

    close(fd);
    b[got] = '\0';

    *buf = b;
    *len = got;

    return ACMEV_OK;
}


acmev_conf_t *
acmev_conf_load(const char *path, char *err, size_t errlen)
{
    char          *text;
    size_t         len;
    acmev_conf_t  *conf;

    if (acmev_conf_file_read(path, ACMEV_CONF_FILE_MAX, &text, &len, err,
                             errlen)
        != ACMEV_OK)
    {
        return NULL;
    }

    conf = acmev_conf_new();
    if (conf == NULL) {
        snprintf(err, errlen, "out of memory");

    } else if (acmev_conf_parse(conf, text, len, path, err, errlen)
               != ACMEV_OK
               || acmev_conf_check(conf, err, errlen) != ACMEV_OK)
    {
        acmev_conf_free(conf);
        conf = NULL;
    }

    free(text);

    return conf;
}


int
acmev_conf_reload(acmev_conf_t *next, const acmev_conf_t *cur)
{
    int                 *ni, ci;
    char               **ns, *cs, *dup;
    size_t               i;
    const acmev_opt_t   *opt;

    for (i = 0; i < ACMEV_NOPTS; i++) {
        opt = &acmev_opts[i];

        if (opt->flags & ACMEV_OPT_RELOAD) {
            continue;
        }

        /* fixed options are strings and integers only */
        if (opt->type == ACMEV_OPT_STR) {
            ns = (char **) ((char *) next + opt->offset);
            cs = *(char **) ((char *) cur + opt->offset);

            if (*ns != NULL && cs != NULL && strcmp(*ns, cs) == 0) {
                continue;
            }

            if (*ns != NULL || cs != NULL) {
                acmev_log(LOG_WARNING, "option \"%s\" changes only on "
                          "restart, keeping the running value", opt->name);
            }

            dup = NULL;

            if (cs != NULL) {
                dup = strdup(cs);
                if (dup == NULL) {
                    return ACMEV_ENOMEM;
                }
            }

            free(*ns);
            *ns = dup;

        } else {
            ni = (int *) ((char *) next + opt->offset);
            ci = *(const int *) ((const char *) cur + opt->offset);

            if (*ni != ci) {
                acmev_log(LOG_WARNING, "option \"%s\" changes only on "
                          "restart, keeping the running value %d",
                          opt->name, ci);
                *ni = ci;
            }
        }
    }

    /* derived from "redis", which did not change */
    dup = strdup(cur->redis_host);
    if (dup == NULL) {
        return ACMEV_ENOMEM;
    }

    free(next->redis_host);
    next->redis_host = dup;
    next->redis_port = cur->redis_port;

    /* derived from "metrics_listen", likewise kept */
    next->metrics_addr = cur->metrics_addr;
    next->metrics_addrlen = cur->metrics_addrlen;

    return ACMEV_OK;
}


void
acmev_conf_usage(FILE *f)
{
    int                 col, n;
    char                help[512], *word, *save;
    size_t              i;
    const acmev_opt_t  *opt;

    for (i = 0; i < ACMEV_NOPTS; i++) {
        opt = &acmev_opts[i];

        fprintf(f, "    %s = %s%s\n", opt->name,
                opt->def ? opt->def
                : (opt->flags & ACMEV_OPT_REQUIRED) ? "(required)"
                : (opt->flags & ACMEV_OPT_UNSET) ? "(unset)"
                : "(derived)",
                (opt->flags & ACMEV_OPT_MULTI) ? " (repeatable)" : "");

        snprintf(help, sizeof(help), "%s%s", opt->help,
                 (opt->flags & ACMEV_OPT_RELOAD) ? "; reloaded on SIGHUP"
                                                 : "");

        /* wrapped at 76 columns, indented by 8 */
        col = 0;

        for (word = strtok_r(help, " ", &save); word != NULL;
             word = strtok_r(NULL, " ", &save))
        {
            n = (int) strlen(word);

            if (col > 0 && col + 1 + n > 68) {
                fputc('\n', f);
                col = 0;
            }

            col += fprintf(f, "%s%s", col == 0 ? "        " : " ", word)
                   - (col == 0 ? 8 : 0);
        }

        fputc('\n', f);
    }
}


void
acmev_conf_publish(acmev_conf_t *conf)
{
    acmev_conf_t  *old;

    pthread_mutex_lock(&acmev_conf_mutex);

    old = acmev_conf_current;
    acmev_conf_current = conf;

    if (conf != NULL) {
        conf->refs = 1;         /* the reference of "current" itself */
    }

    pthread_mutex_unlock(&acmev_conf_mutex);

    if (conf != NULL) {
        acmev_log_set_level(conf->log_level);
    }

    if (old != NULL) {
        acmev_conf_release(old);
    }
}


acmev_conf_t *
acmev_conf_acquire(void)
{
    acmev_conf_t  *conf;

    pthread_mutex_lock(&acmev_conf_mutex);

    conf = acmev_conf_current;
    if (conf != NULL) {
        conf->refs++;
    }

    pthread_mutex_unlock(&acmev_conf_mutex);

    return conf;
}


void
acmev_conf_release(acmev_conf_t *conf)
{
    int  refs;

    if (conf == NULL) {
        return;
    }

    pthread_mutex_lock(&acmev_conf_mutex);

    refs = --conf->refs;
    if (refs == 0 && acmev_conf_current == conf) {
        acmev_conf_current = NULL;
    }

    pthread_mutex_unlock(&acmev_conf_mutex);

    if (refs == 0) {
        acmev_conf_free(conf);
    }
}


static int
acmev_conf_set(acmev_conf_t *conf, const acmev_opt_t *opt,
    const char *value, char *err, size_t errlen)
{
    int    *ip, level;
    char  **sp, *end, *dup;
    long    n;

    switch (opt->type) {

    case ACMEV_OPT_STR:
        if (*value == '\0') {
            snprintf(err, errlen, "empty value for \"%s\"", opt->name);
            return ACMEV_EINVAL;
        }

        dup = strdup(value);
        if (dup == NULL) {
            snprintf(err, errlen, "out of memory");
            return ACMEV_ENOMEM;
        }

        sp = (char **) ((char *) conf + opt->offset);
        free(*sp);
        *sp = dup;
        return ACMEV_OK;

    case ACMEV_OPT_INT:
        errno = 0;
        n = strtol(value, &end, 10);

        if (errno != 0 || end == value || *end != '\0'
            || n < opt->min || n > opt->max)
        {
            snprintf(err, errlen, "\"%s\" must be an integer from %d to %d, "
                     "not \"%.32s\"", opt->name, opt->min, opt->max, value);
            return ACMEV_EINVAL;
        }

        ip = (int *) ((char *) conf + opt->offset);
        *ip = (int) n;
        return ACMEV_OK;

    case ACMEV_OPT_BOOL:
        ip = (int *) ((char *) conf + opt->offset);

        if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0
            || strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
        {
            *ip = 1;
            return ACMEV_OK;
        }

        if (strcasecmp(value, "no") == 0 || strcasecmp(value, "off") == 0
            || strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
        {
            *ip = 0;
            return ACMEV_OK;
        }

        snprintf(err, errlen, "\"%s\" must be yes or no, not \"%.32s\"",
                 opt->name, value);
        return ACMEV_EINVAL;

    case ACMEV_OPT_LEVEL:
        level = acmev_log_level_parse(value);
        if (level < 0) {
            snprintf(err, errlen, "\"%s\" must be error, warn, notice, info "
                     "or debug, not \"%.32s\"", opt->name, value);
            return ACMEV_EINVAL;
        }

        ip = (int *) ((char *) conf + opt->offset);
        *ip = level;
        return ACMEV_OK;

    case ACMEV_OPT_RESOLVER:
        return acmev_conf_resolver(conf, value, err, errlen);

    case ACMEV_OPT_CAA_IDS:
        return acmev_conf_caa_ids(conf, value, err, errlen);
    }

    snprintf(err, errlen, "bad option type");
    return ACMEV_EINVAL;
}


/* "192.0.2.1", "192.0.2.1:53", "2001:db8::1", "[2001:db8::1]:53" */
static int
acmev_conf_resolver(acmev_conf_t *conf, const char *value, char *err,
    size_t errlen)
{
    long              port;
    char              addr[INET6_ADDRSTRLEN + 2], *end;
    size_t            n;
    const char       *p, *portstr;
    unsigned char     buf[sizeof(struct in6_addr)];
    acmev_ns_t       *ns;

    if (conf->nresolvers == ACMEV_RESOLVERS_MAX) {
        snprintf(err, errlen, "more than %d resolvers", ACMEV_RESOLVERS_MAX);
        return ACMEV_EINVAL;
    }

    ns = &conf->resolvers[conf->nresolvers];
    portstr = NULL;

    if (value[0] == '[') {
        p = strchr(value, ']');
        if (p == NULL || (p[1] != '\0' && p[1] != ':')) {
            goto invalid;
        }

        n = p - value - 1;
        portstr = p[1] ? p + 2 : NULL;
        value++;

    } else {
        p = strchr(value, ':');
        n = strlen(value);

        /* one colon: IPv4 with a port; more: a bare IPv6 address */
        if (p != NULL && strchr(p + 1, ':') == NULL) {
            n = p - value;
            portstr = p + 1;
        }
    }

    if (n == 0 || n >= sizeof(addr)) {
        goto invalid;
    }

    memcpy(addr, value, n);
    addr[n] = '\0';

    if (inet_pton(AF_INET, addr, buf) == 1) {
        ns->family = AF_INET;

    } else if (inet_pton(AF_INET6, addr, buf) == 1) {
        ns->family = AF_INET6;

    } else {
        goto invalid;
    }

    port = ACMEV_DNS_PORT;

    if (portstr != NULL) {
        errno = 0;
        port = strtol(portstr, &end, 10);
        if (errno != 0 || end == portstr || *end != '\0'
            || port < 1 || port > 65535)
        {
            goto invalid;
        }
    }

    /* stored in canonical text form, as ldns parses it */
    inet_ntop(ns->family, buf, ns->addr, sizeof(ns->addr));
    ns->port = (uint16_t) port;
    conf->nresolvers++;

    return ACMEV_OK;

invalid:

    snprintf(err, errlen, "\"resolver\" must be an IP address with an "
             "optional port (ip, ip:port, [ipv6]:port), not \"%.64s\"",
             value);
    return ACMEV_EINVAL;
}


/*
 * "ca.example, ca2.example": each an issuer-domain-name of RFC 8659 4.2,
 * kept in lowercase since the comparison ignores case (RFC 1035 2.3.3).
 */
static int
acmev_conf_caa_ids(acmev_conf_t *conf, const char *value, char *err,
    size_t errlen)
{
    char        *id;
    size_t       i, n;
    const char  *p;

    p = value;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }

        if (*p == '\0') {
            break;
        }

        n = strcspn(p, " \t,");

        if (!acmev_conf_domain(p, n)) {
            snprintf(err, errlen, "\"caa_identities\" must be domain names "
                     "(RFC 8659 4.2 issuer-domain-name), not \"%.*s\"",
                     (int) (n > 64 ? 64 : n), p);
            return ACMEV_EINVAL;
        }

        if (conf->ncaa_ids == ACMEV_CAA_IDS_MAX) {
            snprintf(err, errlen, "more than %d caa_identities",
                     ACMEV_CAA_IDS_MAX);
            return ACMEV_EINVAL;
        }

        id = strndup(p, n);
        if (id == NULL) {
            snprintf(err, errlen, "out of memory");
            return ACMEV_ENOMEM;
        }

        for (i = 0; i < n; i++) {
            if (id[i] >= 'A' && id[i] <= 'Z') {
                id[i] = (char) (id[i] - 'A' + 'a');
            }
        }

        conf->caa_ids[conf->ncaa_ids++] = id;
        p += n;
    }

    return ACMEV_OK;
}


/* RFC 8659 4.2: label *("." label), label = (ALPHA / DIGIT) *( *("-")
 * (ALPHA / DIGIT)) */
static int
acmev_conf_domain(const char *name, size_t len)
{
    size_t  i, label;

    if (len == 0 || len > 253) {
        return 0;
    }

    label = 0;

    for (i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (label == 0 || name[i - 1] == '-') {
                return 0;
            }

            label = 0;
            continue;
        }

        if (name[i] == '-') {
            if (label == 0) {
                return 0;
            }

        } else if (!((name[i] >= 'a' && name[i] <= 'z')
                     || (name[i] >= 'A' && name[i] <= 'Z')
                     || (name[i] >= '0' && name[i] <= '9')))
        {
            return 0;
        }

        if (++label > 63) {
            return 0;
        }
    }

    return label > 0 && name[len - 1] != '-';
}


/* splits "redis" into redis_host and redis_port */
static int
acmev_conf_redis(acmev_conf_t *conf, char *err, size_t errlen)
{
    long         port;
    char        *host, *end;
    size_t       n;
    const char  *v, *p, *portstr;

    v = conf->redis;
    portstr = NULL;
    port = ACMEV_REDIS_PORT;

    if (v[0] == '/') {
        n = strlen(v);
        port = 0;

    } else if (v[0] == '[') {
        p = strchr(v, ']');
        if (p == NULL || (p[1] != '\0' && p[1] != ':')) {
            goto invalid;
        }

        portstr = p[1] ? p + 2 : NULL;
        v++;
        n = p - v;

    } else {
        p = strrchr(v, ':');
        n = strlen(v);

        if (p != NULL) {
            if (strchr(v, ':') != p) {
                goto invalid;       /* IPv6 needs brackets here */
            }

            n = p - v;
            portstr = p + 1;
        }
    }

    if (n == 0) {
        goto invalid;
    }

    if (portstr != NULL) {
        errno = 0;
        port = strtol(portstr, &end, 10);
        if (errno != 0 || end == portstr || *end != '\0'
            || port < 1 || port > 65535)
        {
            goto invalid;
        }
    }

    host = strndup(v, n);
    if (host == NULL) {
        snprintf(err, errlen, "out of memory");
        return ACMEV_ENOMEM;
    }

    free(conf->redis_host);
    conf->redis_host = host;
    conf->redis_port = (int) port;

    return ACMEV_OK;

invalid:

    snprintf(err, errlen, "\"redis\" must be host:port, [ipv6]:port or "
             "/unix/socket/path, not \"%.64s\"", conf->redis);
    return ACMEV_EINVAL;
}


/*
 * "metrics_listen": an IP literal and a port, "127.0.0.1:9120" or
 * "[::1]:9120"; no names, so that the address is known without DNS.
 * "off" is the same as unset.
 */
static int
acmev_conf_listen(acmev_conf_t *conf, char *err, size_t errlen)
{
    long                  port;
    char                  addr[INET6_ADDRSTRLEN], *end;
    size_t                n;
    const char           *v, *p, *portstr;
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;

    memset(&conf->metrics_addr, 0, sizeof(conf->metrics_addr));
    conf->metrics_addrlen = 0;

    v = conf->metrics_listen;

    if (v == NULL || strcasecmp(v, "off") == 0) {
        return ACMEV_OK;
    }

    if (v[0] == '[') {
        p = strchr(v, ']');
        if (p == NULL || p[1] != ':') {
            goto invalid;
        }

        v++;
        n = p - v;
        portstr = p + 2;

    } else {
        p = strchr(v, ':');
        if (p == NULL || strchr(p + 1, ':') != NULL) {
            goto invalid;       /* no port, or IPv6 without brackets */
        }

        n = p - v;
        portstr = p + 1;
    }

    if (n == 0 || n >= sizeof(addr)) {
        goto invalid;
    }

    memcpy(addr, v, n);
    addr[n] = '\0';

    errno = 0;
    port = strtol(portstr, &end, 10);
    if (errno != 0 || end == portstr || *end != '\0'
        || port < 1 || port > 65535)
    {
        goto invalid;
    }

    if (conf->metrics_listen[0] != '[') {
        sin = (struct sockaddr_in *) &conf->metrics_addr;

        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
            goto invalid;
        }

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        conf->metrics_addrlen = sizeof(struct sockaddr_in);

    } else {
        sin6 = (struct sockaddr_in6 *) &conf->metrics_addr;

        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) {
            goto invalid;
        }

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        conf->metrics_addrlen = sizeof(struct sockaddr_in6);
    }

    return ACMEV_OK;

invalid:

    snprintf(err, errlen, "\"metrics_listen\" must be ipv4:port or "
             "[ipv6]:port, not \"%.64s\"", conf->metrics_listen);
    return ACMEV_EINVAL;
}


static int
acmev_conf_is_set(const acmev_conf_t *conf, const acmev_opt_t *opt)
{
    if (opt->type == ACMEV_OPT_RESOLVER) {
        return conf->nresolvers > 0;
    }

    if (opt->type == ACMEV_OPT_STR) {
        return *(char * const *) ((const char *) conf + opt->offset) != NULL;
    }

    return 1;
}


static char *
acmev_conf_trim(char *s)
{
    size_t  n;

    while (*s == ' ' || *s == '\t') {
        s++;
    }

    n = strlen(s);

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'
                     || s[n - 1] == '\r'))
    {
        s[--n] = '\0';
    }

    return s;
}
