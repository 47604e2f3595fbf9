/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-server-admin: operator commands that need no nginx.
 *
 *   migrate                         apply pending sql/NNNN_*.sql
 *   eab add|list|revoke             External Account Binding keys
 *   account show|deactivate ID      an account by its public id
 *   cert show|revoke SERIAL         a certificate by its hex serial
 *   orders --status STATUS          orders in one state
 *   recover [--older-than DUR]      fail orders stuck in processing
 *   expiring [--within DUR]         certificates expiring soon
 *
 * Every command takes --database CONNINFO or --config FILE (a file with a
 * "database = ..." line, the validator's syntax), else uses
 * $ACME_SERVER_DATABASE, and --json for machine-readable output.  Exit
 * status: 0 done, 1 runtime failure (no such object, refused state
 * change, database error), 2 usage error.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <errno.h>
#include <ctype.h>
#include <limits.h>
#include <inttypes.h>
#include <time.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
#include "acme/acme_base64url.h"
#include "store/acme_store_pg.h"


#define ACME_ADMIN_OK        0
#define ACME_ADMIN_FAILED    1
#define ACME_ADMIN_USAGE     2
#define ACME_ADMIN_HELP     -1     /* --help was given: usage, exit 0 */

#define ACME_ADMIN_MAX_POS   2
#define ACME_ADMIN_LINE_MAX  4096

/* RFC 8555 7.3.4: the kid and the MAC key are the CA's choice */
#define ACME_ADMIN_KID_BYTES  16
#define ACME_ADMIN_KEY_BYTES  32

#define ACME_ADMIN_DEFAULT_CA       "/acme/"
#define ACME_ADMIN_DEFAULT_LIMIT    1000
#define ACME_ADMIN_RECOVER_AGE      300             /* seconds */
#define ACME_ADMIN_EXPIRING_WITHIN  (30 * 86400)    /* seconds */


typedef struct {
    const char   *database;      /* --database */
    const char   *config;        /* --config */
    int           json;          /* --json */
    const char   *usage;         /* the running command's usage line */
} acme_admin_t;

/* a command's option, "--name VALUE" or "--name=VALUE" */
typedef struct {
    const char   *name;
    const char  **value;
} acme_admin_opt_t;

typedef struct {
    const char   *name;
    const char   *sub;           /* NULL: no subcommand */
    int         (*handler)(acme_admin_t *ad, int argc, char **argv);
    const char   *usage;
} acme_admin_cmd_t;


static int acme_admin_migrate(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_eab_add(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_eab_list(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_eab_revoke(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_account_show(acme_admin_t *ad, int argc,
    char **argv);
static int acme_admin_account_deactivate(acme_admin_t *ad, int argc,
    char **argv);
static int acme_admin_cert_show(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_cert_revoke(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_orders(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_recover(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_expiring(acme_admin_t *ad, int argc, char **argv);
static int acme_admin_audit(acme_admin_t *ad, int argc, char **argv);


static const acme_admin_cmd_t  acme_admin_cmds[] = {

    { "migrate", NULL, acme_admin_migrate,
      "migrate [--dir DIR]" },

    { "eab", "add", acme_admin_eab_add,
      "eab add [--ca NAME] [--note TEXT]" },

    { "eab", "list", acme_admin_eab_list,
      "eab list [--ca NAME]" },

    { "eab", "revoke", acme_admin_eab_revoke,
      "eab revoke KID" },

    { "account", "show", acme_admin_account_show,
      "account show ID" },

    { "account", "deactivate", acme_admin_account_deactivate,
      "account deactivate ID" },

    { "cert", "show", acme_admin_cert_show,
      "cert show SERIAL" },

    { "cert", "revoke", acme_admin_cert_revoke,
      "cert revoke SERIAL --reason N" },

    { "orders", NULL, acme_admin_orders,
      "orders [--status STATUS] [--limit N]" },

    { "recover", NULL, acme_admin_recover,
      "recover [--older-than DURATION]" },

    { "expiring", NULL, acme_admin_expiring,
      "expiring [--within DURATION] [--limit N]" },

    { "audit", NULL, acme_admin_audit,
      "audit [--account ID] [--identifier NAME] [--serial HEX]\n"
      "        [--since DURATION] [--until DURATION] [--limit N]" },
};

#define ACME_ADMIN_NCMDS  (sizeof(acme_admin_cmds) / sizeof(acme_admin_cmds[0]))


/* RFC 5280 5.3.1 codes a revocation may give: the server's rule
 * (src/server/acme_srv.c, CA/B BR 7.2.2) */
static const struct {
    int          code;
    const char  *name;
} acme_admin_reasons[] = {
    { 0, "unspecified" },
    { 1, "keyCompromise" },
    { 3, "affiliationChanged" },
    { 4, "superseded" },
    { 5, "cessationOfOperation" },
    { 9, "privilegeWithdrawn" },
};

#define ACME_ADMIN_NREASONS                                                  \
    (sizeof(acme_admin_reasons) / sizeof(acme_admin_reasons[0]))


static void
acme_admin_usage(FILE *f)
{
    size_t  i;

    fprintf(f, "usage: acme-server-admin COMMAND [ARGS] [--json]\n"
               "           [--database CONNINFO | --config FILE]\n\n"
               "commands:\n");

    for (i = 0; i < ACME_ADMIN_NCMDS; i++) {
        fprintf(f, "  %s\n", acme_admin_cmds[i].usage);
    }

    fprintf(f,
        "\n"
        "  --database  libpq conninfo or URI of the CA database\n"
        "  --config    a file with a \"database = CONNINFO\" line (the\n"
        "              validator's configuration file will do)\n"
        "              without either: $ACME_SERVER_DATABASE\n"
        "  --json      print the result as JSON\n"
        "\n"
        "  DURATION is a number of seconds, or a number with an s, m, h\n"
        "  or d suffix (\"30d\").  Exit status: 0 done, 1 failed, 2 usage\n"
        "  error.  See README.md, section \"acme-server-admin\".\n");
}


/* usage errors: one line saying what is wrong, then the command's usage */
static int
acme_admin_bad_usage(acme_admin_t *ad, const char *fmt, const char *arg)
{
    fprintf(stderr, "acme-server-admin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");

    if (ad->usage) {
        fprintf(stderr, "usage: acme-server-admin %s [--json]\n"
                        "           [--database CONNINFO | --config FILE]\n",
                ad->usage);

    } else {
        acme_admin_usage(stderr);
    }

    return ACME_ADMIN_USAGE;
}


static int
acme_admin_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));


static int
acme_admin_fail(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "acme-server-admin: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");

    return ACME_ADMIN_FAILED;
}


/*
 * Parses a command's arguments: the global options, the command's own
 * options opts (NULL-terminated) as "--name VALUE" or "--name=VALUE", and
 * between min and max positional arguments into pos[].
 */
static int
acme_admin_args(acme_admin_t *ad, int argc, char **argv,
    const acme_admin_opt_t *opts, const char **pos, int min, int max)
{
    int                      i, n, rest;
    char                    *arg, *eq;
    size_t                   len;
    const char              *value, **dst;
    const acme_admin_opt_t  *o;

    n = 0;
    rest = 0;

    for (i = 0; i < argc; i++) {
        arg = argv[i];

        if (!rest && strcmp(arg, "--") == 0) {
            rest = 1;
            continue;
        }

        if (rest || arg[0] != '-' || arg[1] == '\0') {
            if (n == max) {
                return acme_admin_bad_usage(ad, "unexpected argument "
                                            "\"%s\"", arg);
            }

            pos[n++] = arg;
            continue;
        }

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            return ACME_ADMIN_HELP;
        }

        eq = strchr(arg, '=');
        len = eq ? (size_t) (eq - arg) : strlen(arg);

        if (len == 6 && strncmp(arg, "--json", len) == 0) {
            if (eq) {
                return acme_admin_bad_usage(ad, "%s takes no value",
                                            "--json");
            }

            ad->json = 1;
            continue;
        }

        dst = NULL;

        if (len == 10 && strncmp(arg, "--database", len) == 0) {
            dst = &ad->database;

        } else if (len == 8 && strncmp(arg, "--config", len) == 0) {
            dst = &ad->config;

        } else {
            for (o = opts; o && o->name; o++) {
                if (strlen(o->name) == len
                    && strncmp(arg, o->name, len) == 0)
                {
                    dst = o->value;
                    break;
                }
            }
        }

        if (dst == NULL) {
            return acme_admin_bad_usage(ad, "unknown option \"%s\"", arg);
        }

        if (eq) {
            value = eq + 1;

        } else if (i + 1 < argc) {
            value = argv[++i];

        } else {
            return acme_admin_bad_usage(ad, "%s needs a value", arg);
        }

        *dst = value;
    }

    if (n < min) {
        return acme_admin_bad_usage(ad, "%s", min == 1 ? "an argument is "
                                    "missing" : "arguments are missing");
    }

    if (ad->database && ad->config) {
        return acme_admin_bad_usage(ad, "%s", "--database and --config "
                                    "exclude each other");
    }

    return ACME_ADMIN_OK;
}


/* "database = ..." from a file of "key = value" lines (the validator's
 * syntax: whole-line '#' comments, optional double quotes) */
static char *
acme_admin_config_database(const char *path)
{
    char    line[ACME_ADMIN_LINE_MAX];
    char   *key, *value, *eq, *end, *db;
    FILE   *f;
    size_t  n, lineno;

    f = fopen(path, "r");
    if (f == NULL) {
        acme_admin_fail("%s: %s", path, strerror(errno));
        return NULL;
    }

    db = NULL;
    lineno = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;

        key = line;
        while (isspace((unsigned char) *key)) {
            key++;
        }

        if (*key == '\0' || *key == '#') {
            continue;
        }

        eq = strchr(key, '=');
        if (eq == NULL) {
            continue;
        }

        end = eq;
        while (end > key && isspace((unsigned char) end[-1])) {
            end--;
        }

        if ((size_t) (end - key) != 8 || strncmp(key, "database", 8) != 0) {
            continue;
        }

        value = eq + 1;
        while (isspace((unsigned char) *value)) {
            value++;
        }

        n = strlen(value);
        while (n > 0 && isspace((unsigned char) value[n - 1])) {
            value[--n] = '\0';
        }

        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
            value[n - 1] = '\0';
            value++;
        }

        if (db != NULL) {
            acme_admin_fail("%s:%zu: duplicate option \"database\"", path,
                            lineno);
            free(db);
            fclose(f);
            return NULL;
        }

        db = strdup(value);
        if (db == NULL) {
            acme_admin_fail("out of memory");
            fclose(f);
            return NULL;
        }
    }

    if (ferror(f)) {
        acme_admin_fail("%s: read error", path);
        free(db);
        db = NULL;

    } else if (db == NULL || *db == '\0') {
        acme_admin_fail("%s: no \"database = CONNINFO\" line", path);
        free(db);
        db = NULL;
    }

    fclose(f);

    return db;
}


/* the database connection, or NULL with the exit status in *rc */
static acme_pg_t *
acme_admin_open(acme_admin_t *ad, int *rc)
{
    char        *conf_db;
    acme_pg_t   *pg;
    const char  *db;

    conf_db = NULL;
    db = ad->database;

    if (db == NULL && ad->config) {
        conf_db = acme_admin_config_database(ad->config);
        if (conf_db == NULL) {
            *rc = ACME_ADMIN_FAILED;
            return NULL;
        }

        db = conf_db;
    }

    if (db == NULL) {
        db = getenv("ACME_SERVER_DATABASE");
    }

    if (db == NULL || *db == '\0') {
        *rc = acme_admin_bad_usage(ad, "%s", "no database: give --database "
                                   "CONNINFO, --config FILE or set "
                                   "$ACME_SERVER_DATABASE");
        return NULL;
    }

    pg = acme_pg_open(db);
    free(conf_db);

    if (pg == NULL) {
        *rc = acme_admin_fail("out of memory");
        return NULL;
    }

    /* the conninfo may hold a password: libpq's message names no more
     * than host and port */
    if (acme_pg_ensure(pg) != ACME_OK) {
        *rc = acme_admin_fail("cannot connect to the database: %s",
                              acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return NULL;
    }

    return pg;
}


/* ---------------------------------------------------------------- */
/* output */


static void
acme_admin_time(char *buf, size_t size, time_t t)
{
    struct tm  tm;

    if (t == 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, size, "-");
        return;
    }

    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


/* RFC 3339 UTC string, or null for "never" (0) */
static json_t *
acme_admin_json_time(time_t t)
{
    char  buf[32];

    if (t == 0) {
        return json_null();
    }

    acme_admin_time(buf, sizeof(buf), t);

    return json_string(buf);
}


static json_t *
acme_admin_json_str(const char *s)
{
    return (s && *s) ? json_string(s) : json_null();
}


/* prints and releases o (a new reference) */
static int
acme_admin_json_print(json_t *o)
{
    char  *s;

    if (o == NULL) {
        return acme_admin_fail("out of memory");
    }

    s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);

    if (s == NULL) {
        return acme_admin_fail("out of memory");
    }

    printf("%s\n", s);
    free(s);

    return ACME_ADMIN_OK;
}


/* parses a JSON text from the database; on bad JSON the text itself */
static json_t *
acme_admin_json_text(const char *text)
{
    json_t  *j;

    j = json_loads(text ? text : "null", JSON_DECODE_ANY, NULL);

    return j ? j : json_string(text);
}


/* "dns:example.org, ip:192.0.2.1" from an identifiers JSON array */
static void
acme_admin_idents_text(char *buf, size_t size, const char *identifiers)
{
    size_t   i, len;
    json_t  *a, *v;

    buf[0] = '\0';
    len = 0;

    a = json_loads(identifiers ? identifiers : "[]", 0, NULL);
    if (!json_is_array(a)) {
        snprintf(buf, size, "%s", identifiers ? identifiers : "");
        json_decref(a);
        return;
    }

    json_array_foreach(a, i, v) {
        if (len >= size) {
            break;
        }

        len += snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                        json_string_value(json_object_get(v, "value"))
                        ? json_string_value(json_object_get(v, "value"))
                        : "?");
    }

    json_decref(a);
}


/* ---------------------------------------------------------------- */
/* argument values */


/* DURATION: seconds, optionally with an s, m, h or d suffix */
static int
acme_admin_duration(const char *s, int64_t max, int64_t *out)
{
    char       *end;
    int64_t     unit;
    long long   v;

    if (!isdigit((unsigned char) s[0])) {
        return ACME_ERROR;
    }

    errno = 0;
    v = strtoll(s, &end, 10);

    if (errno != 0) {
        return ACME_ERROR;
    }

    switch (*end) {
    case '\0':
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return ACME_ERROR;
    }

    if (*end != '\0' && end[1] != '\0') {
        return ACME_ERROR;
    }

    if (v > max / unit) {
        return ACME_ERROR;
    }

    *out = v * unit;

    return ACME_OK;
}


static int
acme_admin_number(const char *s, long min, long max, long *out)
{
    char  *end;
    long   v;

    if (!isdigit((unsigned char) s[0])) {
        return ACME_ERROR;
    }

    errno = 0;
    v = strtol(s, &end, 10);

    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return ACME_ERROR;
    }

    *out = v;

    return ACME_OK;
}


/*
 * --limit: the option's text l (NULL when absent: *limit keeps its
 * default) as a row count from 1 to 1000000 into *limit.  Returns
 * ACME_ADMIN_OK, or the usage exit status after the message.
 */
static int
acme_admin_limit(acme_admin_t *ad, const char *l, long *limit)
{
    if (l != NULL && acme_admin_number(l, 1, 1000000, limit) != ACME_OK) {
        return acme_admin_bad_usage(ad, "--limit: \"%s\" is not a number "
                                    "from 1 to 1000000", l);
    }

    return ACME_ADMIN_OK;
}


/* a serial as stored: lowercase hex, even length, no leading zero octet
 * (as the server computes it); "0x", colons and upper case accepted */
static int
acme_admin_serial(const char *s, char *out, size_t size)
{
    size_t  n, i;
    char    hex[128];

    if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0) {
        s += 2;
    }

    n = 0;

    for ( /* void */ ; *s; s++) {
        if (*s == ':') {
            continue;
        }

        if (!isxdigit((unsigned char) *s) || n + 1 >= sizeof(hex)) {
            return ACME_ERROR;
        }

        hex[n++] = (char) tolower((unsigned char) *s);
    }

    hex[n] = '\0';

    for (i = 0; i + 1 < n && hex[i] == '0'; i++) {
        /* void */
    }

    if (n == 0 || (n - i) + 2 > size) {
        return ACME_ERROR;
    }

    snprintf(out, size, "%s%s", (n - i) % 2 ? "0" : "", hex + i);

    return ACME_OK;
}


static const char *
acme_admin_reason_name(int code)
{
    size_t  i;

    for (i = 0; i < ACME_ADMIN_NREASONS; i++) {
        if (acme_admin_reasons[i].code == code) {
            return acme_admin_reasons[i].name;
        }
    }

    return "unknown";
}


/* ---------------------------------------------------------------- */
/* migrate */


static acme_admin_t  *acme_admin_migrate_ad;
static json_t        *acme_admin_migrate_list;


static void
acme_admin_migrate_log(const char *msg)
{
    if (acme_admin_migrate_ad->json) {
        if (strncmp(msg, "applied ", 8) == 0) {
            json_array_append_new(acme_admin_migrate_list,
                                  json_string(msg + 8));
        }

        return;
    }

    printf("acme-server-admin: %s\n", msg);
}


static int
acme_admin_migrate(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc, applied;
    acme_pg_t               *pg;
    const char              *dir;
    const acme_admin_opt_t   opts[] = {
        { "--dir", &dir },
        { NULL, NULL }
    };

    dir = "sql";

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    acme_admin_migrate_ad = ad;
    acme_admin_migrate_list = json_array();

    if (acme_pg_migrate(pg, dir, &applied, acme_admin_migrate_log)
        != ACME_OK)
    {
        rc = acme_admin_fail("migrate failed: %s", acme_pg_errmsg(pg));
        json_decref(acme_admin_migrate_list);
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    if (ad->json) {
        return acme_admin_json_print(json_pack("{s:i, s:o}",
                                               "applied", applied,
                                               "versions",
                                               acme_admin_migrate_list));
    }

    json_decref(acme_admin_migrate_list);

    printf("acme-server-admin: %d migration(s) applied, schema is current\n",
           applied);

    return ACME_ADMIN_OK;
}


/* ---------------------------------------------------------------- */
/* eab */


static const char *
acme_admin_eab_status(const acme_pg_eab_t *e)
{
    if (e->revoked_at) {
        return "revoked";
    }

    return e->bound_at ? "bound" : "unused";
}


static json_t *
acme_admin_eab_json(const acme_pg_eab_t *e)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
                     "kid", e->kid,
                     "ca", e->ca,
                     "status", acme_admin_eab_status(e),
                     "note", acme_admin_json_str(e->note),
                     "created_at", acme_admin_json_time(e->created_at),
                     "revoked_at", acme_admin_json_time(e->revoked_at),
                     "bound_at", acme_admin_json_time(e->bound_at),
                     "account", acme_admin_json_str(e->account));
}


static int
acme_admin_eab_add(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc;
    char                     kid[acme_b64u_encoded_len(ACME_ADMIN_KID_BYTES)
                                 + 1];
    char                     b64[acme_b64u_encoded_len(ACME_ADMIN_KEY_BYTES)
                                 + 1];
    acme_pg_t               *pg;
    const char              *ca, *note;
    unsigned char            raw[ACME_ADMIN_KID_BYTES];
    unsigned char            key[ACME_ADMIN_KEY_BYTES];
    const acme_admin_opt_t   opts[] = {
        { "--ca", &ca },
        { "--note", &note },
        { NULL, NULL }
    };

    ca = ACME_ADMIN_DEFAULT_CA;
    note = NULL;

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    if (*ca == '\0' || strlen(ca) >= ACME_PG_CA_NAME_MAX) {
        return acme_admin_bad_usage(ad, "%s", "--ca: a location name such "
                                    "as \"/acme/\"");
    }

    if (note && *note == '\0') {
        note = NULL;
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    if (RAND_bytes(raw, sizeof(raw)) != 1
        || RAND_bytes(key, sizeof(key)) != 1)
    {
        acme_pg_close(pg);
        return acme_admin_fail("RAND_bytes() failed");
    }

    kid[acme_b64u_encode(kid, raw, sizeof(raw))] = '\0';

    rc = acme_pg_eab_create(pg, ca, kid, key, sizeof(key), note);

    if (rc != ACME_OK) {
        OPENSSL_cleanse(key, sizeof(key));
        rc = acme_admin_fail("eab add: %s", rc == ACME_CONFLICT
                             ? "kid exists already (try again)"
                             : acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    /* the only time the key leaves the database */
    b64[acme_b64u_encode(b64, key, sizeof(key))] = '\0';
    OPENSSL_cleanse(key, sizeof(key));

    if (ad->json) {
        rc = acme_admin_json_print(json_pack("{s:s, s:s, s:s, s:o}",
                                             "kid", kid,
                                             "hmac_key", b64,
                                             "ca", ca,
                                             "note",
                                             acme_admin_json_str(note)));

    } else {
        printf("kid:       %s\n"
               "hmac_key:  %s\n"
               "ca:        %s\n",
               kid, b64, ca);

        fprintf(stderr, "acme-server-admin: the HMAC key (base64url) is "
                        "shown only this once\n");
        rc = ACME_ADMIN_OK;
    }

    OPENSSL_cleanse(b64, sizeof(b64));

    return rc;
}


static int
acme_admin_eab_list(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc;
    char                     created[32];
    size_t                   i, n;
    json_t                  *a;
    acme_pg_t               *pg;
    const char              *ca;
    acme_pg_eab_t           *v;
    const acme_admin_opt_t   opts[] = {
        { "--ca", &ca },
        { NULL, NULL }
    };

    ca = NULL;

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    if (acme_pg_eab_list(pg, ca, &v, &n) != ACME_OK) {
        rc = acme_admin_fail("eab list: %s", acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    if (ad->json) {
        a = json_array();

        for (i = 0; a && i < n; i++) {
            if (json_array_append_new(a, acme_admin_eab_json(&v[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        }

        acme_pg_eab_list_free(v, n);

        return acme_admin_json_print(a);
    }

    printf("%-22s  %-12s  %-20s  %-7s  %-22s  %s\n",
           "KID", "CA", "CREATED", "STATUS", "ACCOUNT", "NOTE");

    for (i = 0; i < n; i++) {
        acme_admin_time(created, sizeof(created), v[i].created_at);
        printf("%-22s  %-12s  %-20s  %-7s  %-22s  %s\n", v[i].kid, v[i].ca,
               created, acme_admin_eab_status(&v[i]),
               v[i].account[0] ? v[i].account : "-",
               v[i].note ? v[i].note : "");
    }

    acme_pg_eab_list_free(v, n);

    return ACME_ADMIN_OK;
}


static int
acme_admin_eab_revoke(acme_admin_t *ad, int argc, char **argv)
{
    int          rc;
    acme_pg_t   *pg;
    const char  *pos[1];

    rc = acme_admin_args(ad, argc, argv, NULL, pos, 1, 1);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    rc = acme_pg_eab_revoke(pg, pos[0]);

    if (rc == ACME_NOT_FOUND) {
        rc = acme_admin_fail("no EAB key with kid \"%s\"", pos[0]);

    } else if (rc == ACME_CONFLICT) {
        rc = acme_admin_fail("EAB key \"%s\" is revoked already", pos[0]);

    } else if (rc != ACME_OK) {
        rc = acme_admin_fail("eab revoke: %s", acme_pg_errmsg(pg));

    } else if (ad->json) {
        rc = acme_admin_json_print(json_pack("{s:s, s:s}", "kid", pos[0],
                                             "status", "revoked"));

    } else {
        printf("acme-server-admin: EAB key %s revoked\n", pos[0]);
        rc = ACME_ADMIN_OK;
    }

    acme_pg_close(pg);

    return rc;
}


/* ---------------------------------------------------------------- */
/* account */


static int
acme_admin_account_print(acme_admin_t *ad, const acme_pg_admin_account_t *a)
{
    char  created[32];

    if (ad->json) {
        return acme_admin_json_print(json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:I, s:I, s:o}",
            "id", a->public_id,
            "ca", a->ca,
            "status", a->status,
            "contact", acme_admin_json_text(a->contact),
            "created_at", acme_admin_json_time(a->created_at),
            "key_thumbprint", a->thumbprint,
            "orders", (json_int_t) a->orders,
            "certificates", (json_int_t) a->certs,
            "certificates_revoked", (json_int_t) a->certs_revoked,
            "eab_kid", acme_admin_json_str(a->eab_kid)));
    }

    acme_admin_time(created, sizeof(created), a->created_at);

    printf("id:                 %s\n"
           "ca:                 %s\n"
           "status:             %s\n"
           "contact:            %s\n"
           "created:            %s\n"
           "key thumbprint:     %s\n"
           "orders:             %" PRId64 "\n"
           "certificates:       %" PRId64 " (%" PRId64 " revoked)\n"
           "eab kid:            %s\n",
           a->public_id, a->ca, a->status, a->contact, created,
           a->thumbprint, a->orders, a->certs, a->certs_revoked,
           a->eab_kid[0] ? a->eab_kid : "-");

    return ACME_ADMIN_OK;
}


static int
acme_admin_account_load(acme_admin_t *ad, int argc, char **argv,
    acme_pg_t **pg, acme_pg_admin_account_t *a)
{
    int          rc;
    const char  *pos[1];

    memset(a, 0, sizeof(*a));

    rc = acme_admin_args(ad, argc, argv, NULL, pos, 1, 1);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    *pg = acme_admin_open(ad, &rc);
    if (*pg == NULL) {
        return rc;
    }

    rc = acme_pg_admin_account_get(*pg, pos[0], a);

    if (rc == ACME_NOT_FOUND) {
        rc = acme_admin_fail("no account with id \"%s\"", pos[0]);

    } else if (rc != ACME_OK) {
        rc = acme_admin_fail("account: %s", acme_pg_errmsg(*pg));

    } else {
        return ACME_ADMIN_OK;
    }

    acme_pg_close(*pg);
    *pg = NULL;

    return rc;
}


static int
acme_admin_account_show(acme_admin_t *ad, int argc, char **argv)
{
    int                       rc;
    acme_pg_t                *pg;
    acme_pg_admin_account_t   a;

    rc = acme_admin_account_load(ad, argc, argv, &pg, &a);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    acme_pg_close(pg);

    rc = acme_admin_account_print(ad, &a);
    acme_pg_admin_account_clear(&a);

    return rc;
}


static int
acme_admin_account_deactivate(acme_admin_t *ad, int argc, char **argv)
{
    int                       rc;
    char                      id[ACME_ID_LEN + 1];
    acme_pg_t                *pg;
    acme_pg_admin_account_t   a;

    rc = acme_admin_account_load(ad, argc, argv, &pg, &a);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    /* RFC 8555 7.3.6: valid -> deactivated only, as the server does it */
    rc = acme_pg_account_update(pg, a.id, NULL, "deactivated");

    if (rc == ACME_CONFLICT) {
        rc = acme_admin_fail("account %s is %s, not valid", a.public_id,
                             a.status);
        goto done;
    }

    if (rc != ACME_OK) {
        rc = acme_admin_fail("account deactivate: %s", acme_pg_errmsg(pg));
        goto done;
    }

    snprintf(id, sizeof(id), "%s", a.public_id);
    acme_pg_admin_account_clear(&a);

    if (acme_pg_admin_account_get(pg, id, &a) != ACME_OK) {
        rc = acme_admin_fail("account %s deactivated, but reading it back "
                             "failed: %s", id, acme_pg_errmsg(pg));
        goto done;
    }

    if (ad->json) {
        rc = acme_admin_account_print(ad, &a);

    } else {
        printf("acme-server-admin: account %s deactivated\n", a.public_id);
        rc = ACME_ADMIN_OK;
    }

done:

    acme_pg_admin_account_clear(&a);
    acme_pg_close(pg);

    return rc;
}


/* ---------------------------------------------------------------- */
/* certificates */


/* the names a certificate holds: dNSName and iPAddress SANs of the DER,
 * or the order's identifiers while only a serial is reserved */
static json_t *
acme_admin_cert_names(const acme_pg_admin_cert_t *c)
{
    int                      i, n;
    char                     ip[INET6_ADDRSTRLEN];
    X509                    *x;
    json_t                  *a, *ids, *v;
    size_t                   k;
    GENERAL_NAME            *gn;
    GENERAL_NAMES           *sans;
    const unsigned char     *p, *d;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    if (c->der == NULL) {
        ids = json_loads(c->identifiers ? c->identifiers : "[]", 0, NULL);

        json_array_foreach(ids, k, v) {
            if (json_is_string(json_object_get(v, "value"))) {
                json_array_append(a, json_object_get(v, "value"));
            }
        }

        json_decref(ids);

        return a;
    }

    p = c->der;
    x = d2i_X509(NULL, &p, (long) c->der_len);
    if (x == NULL) {
        return a;
    }

    sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    n = sans ? sk_GENERAL_NAME_num(sans) : 0;

    for (i = 0; i < n; i++) {
        gn = sk_GENERAL_NAME_value(sans, i);

        if (gn->type == GEN_DNS) {
            json_array_append_new(a, json_stringn(
                (const char *) ASN1_STRING_get0_data(gn->d.dNSName),
                ASN1_STRING_length(gn->d.dNSName)));

        } else if (gn->type == GEN_IPADD) {
            d = ASN1_STRING_get0_data(gn->d.iPAddress);

            if (ASN1_STRING_length(gn->d.iPAddress) == 4) {
                inet_ntop(AF_INET, d, ip, sizeof(ip));

            } else if (ASN1_STRING_length(gn->d.iPAddress) == 16) {
                inet_ntop(AF_INET6, d, ip, sizeof(ip));

            } else {
                continue;
            }

            json_array_append_new(a, json_string(ip));
        }
    }

    GENERAL_NAMES_free(sans);
    X509_free(x);

    return a;
}


static const char *
acme_admin_cert_status(const acme_pg_admin_cert_t *c)
{
    if (c->der == NULL) {
        return "reserved";
    }

    if (c->revoked_at) {
        return "revoked";
    }

    return c->not_after <= time(NULL) ? "expired" : "valid";
}


static json_t *
acme_admin_cert_json(const acme_pg_admin_cert_t *c)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:s, "
                     "s:s, s:o}",
                     "serial", c->serial,
                     "id", c->public_id,
                     "ca", c->ca,
                     "names", acme_admin_cert_names(c),
                     "status", acme_admin_cert_status(c),
                     "not_before", acme_admin_json_time(c->not_before),
                     "not_after", acme_admin_json_time(c->not_after),
                     "revoked_at", acme_admin_json_time(c->revoked_at),
                     "reason", c->reason < 0 ? json_null()
                                             : json_integer(c->reason),
                     "account", c->account,
                     "order", c->order,
                     "created_at", acme_admin_json_time(c->created_at));
}


static int
acme_admin_cert_print(acme_admin_t *ad, const acme_pg_admin_cert_t *c)
{
    char     nb[32], na[32], rv[32], names[2048];
    size_t   i, len;
    json_t  *a, *v;

    if (ad->json) {
        return acme_admin_json_print(acme_admin_cert_json(c));
    }

    a = acme_admin_cert_names(c);
    names[0] = '\0';
    len = 0;

    json_array_foreach(a, i, v) {
        if (len < sizeof(names)) {
            len += snprintf(names + len, sizeof(names) - len, "%s%s",
                            i ? ", " : "", json_string_value(v));
        }
    }

    json_decref(a);

    acme_admin_time(nb, sizeof(nb), c->not_before);
    acme_admin_time(na, sizeof(na), c->not_after);
    acme_admin_time(rv, sizeof(rv), c->revoked_at);

    printf("serial:      %s\n"
           "ca:          %s\n"
           "status:      %s\n"
           "names:       %s\n"
           "not before:  %s\n"
           "not after:   %s\n",
           c->serial, c->ca, acme_admin_cert_status(c), names, nb, na);

    if (c->revoked_at) {
        printf("revoked:     %s\n"
               "reason:      %d (%s)\n", rv, c->reason,
               acme_admin_reason_name(c->reason));

    } else {
        printf("revoked:     no\n");
    }

    printf("account:     %s\n"
           "order:       %s\n"
           "id:          %s\n",
           c->account, c->order, c->public_id);

    return ACME_ADMIN_OK;
}


static int
acme_admin_cert_load(acme_admin_t *ad, const char *arg, acme_pg_t *pg,
    acme_pg_admin_cert_t *c)
{
    int   rc;
    char  serial[64];

    memset(c, 0, sizeof(*c));

    if (acme_admin_serial(arg, serial, sizeof(serial)) != ACME_OK) {
        return acme_admin_bad_usage(ad, "\"%s\" is not a hex serial", arg);
    }

    rc = acme_pg_admin_cert_get(pg, serial, c);

    if (rc == ACME_NOT_FOUND) {
        return acme_admin_fail("no certificate with serial %s", serial);
    }

    if (rc != ACME_OK) {
        return acme_admin_fail("cert: %s", acme_pg_errmsg(pg));
    }

    return ACME_ADMIN_OK;
}


static int
acme_admin_cert_show(acme_admin_t *ad, int argc, char **argv)
{
    int                    rc;
    char                   serial[64];
    acme_pg_t             *pg;
    const char            *pos[1];
    acme_pg_admin_cert_t   c;

    rc = acme_admin_args(ad, argc, argv, NULL, pos, 1, 1);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    /* a usage error before any connection */
    if (acme_admin_serial(pos[0], serial, sizeof(serial)) != ACME_OK) {
        return acme_admin_bad_usage(ad, "\"%s\" is not a hex serial",
                                    pos[0]);
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    rc = acme_admin_cert_load(ad, serial, pg, &c);
    acme_pg_close(pg);

    if (rc == ACME_ADMIN_OK) {
        rc = acme_admin_cert_print(ad, &c);
    }

    acme_pg_admin_cert_clear(&c);

    return rc;
}


static int
acme_admin_cert_revoke(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc, reason;
    char                     serial[64];
    long                     code;
    size_t                   i;
    acme_pg_t               *pg;
    const char              *pos[1], *r;
    acme_pg_admin_cert_t     c;
    const acme_admin_opt_t   opts[] = {
        { "--reason", &r },
        { NULL, NULL }
    };

    r = NULL;
    code = -1;

    rc = acme_admin_args(ad, argc, argv, opts, pos, 1, 1);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    if (acme_admin_serial(pos[0], serial, sizeof(serial)) != ACME_OK) {
        return acme_admin_bad_usage(ad, "\"%s\" is not a hex serial",
                                    pos[0]);
    }

    if (r == NULL) {
        return acme_admin_bad_usage(ad, "%s", "--reason is required (0, 1, "
                                    "3, 4, 5 or 9)");
    }

    reason = -1;

    if (acme_admin_number(r, 0, 10, &code) == ACME_OK) {
        r = NULL;
    }

    for (i = 0; i < ACME_ADMIN_NREASONS; i++) {
        if (r ? strcasecmp(r, acme_admin_reasons[i].name) == 0
              : acme_admin_reasons[i].code == code)
        {
            reason = acme_admin_reasons[i].code;
            break;
        }
    }

    /* RFC 5280 5.3.1; CA/B BR 7.2.2 allows no other code */
    if (reason < 0) {
        return acme_admin_bad_usage(ad, "%s", "--reason: accepted codes are "
                                    "0 unspecified, 1 keyCompromise, 3 "
                                    "affiliationChanged, 4 superseded, 5 "
                                    "cessationOfOperation, 9 "
                                    "privilegeWithdrawn");
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    rc = acme_admin_cert_load(ad, serial, pg, &c);
    if (rc != ACME_ADMIN_OK) {
        goto done;
    }

    rc = acme_pg_cert_revoke(pg, c.id, reason, "acme-server-admin");

    if (rc == ACME_CONFLICT) {
        rc = acme_admin_fail("certificate %s %s", c.serial, c.der == NULL
                             ? "was never issued (its serial is only "
                               "reserved)"
                             : "is revoked already");
        goto done;
    }

    if (rc != ACME_OK) {
        rc = acme_admin_fail("cert revoke: %s", acme_pg_errmsg(pg));
        goto done;
    }

    acme_pg_admin_cert_clear(&c);

    rc = acme_admin_cert_load(ad, serial, pg, &c);
    if (rc != ACME_ADMIN_OK) {
        goto done;
    }

    if (ad->json) {
        rc = acme_admin_cert_print(ad, &c);

    } else {
        printf("acme-server-admin: certificate %s revoked, reason %d (%s)\n",
               c.serial, reason, acme_admin_reason_name(reason));
    }

done:

    acme_pg_admin_cert_clear(&c);
    acme_pg_close(pg);

    return rc;
}


static int
acme_admin_expiring(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc;
    char                     na[32], names[2048];
    long                     limit;
    size_t                   i, j, n, len;
    json_t                  *a, *nm, *v;
    int64_t                  within;
    acme_pg_t               *pg;
    const char              *w, *l;
    acme_pg_admin_cert_t    *c;
    const acme_admin_opt_t   opts[] = {
        { "--within", &w },
        { "--limit", &l },
        { NULL, NULL }
    };

    w = NULL;
    l = NULL;
    within = ACME_ADMIN_EXPIRING_WITHIN;
    limit = ACME_ADMIN_DEFAULT_LIMIT;

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    if (w && acme_admin_duration(w, 100LL * 365 * 86400, &within)
             != ACME_OK)
    {
        return acme_admin_bad_usage(ad, "--within: \"%s\" is not a "
                                    "duration such as 30d, 12h or 3600",
                                    w);
    }

    rc = acme_admin_limit(ad, l, &limit);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    if (acme_pg_admin_expiring(pg, within, limit, &c, &n) != ACME_OK) {
        rc = acme_admin_fail("expiring: %s", acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    if (ad->json) {
        a = json_array();

        for (i = 0; a && i < n; i++) {
            if (json_array_append_new(a, acme_admin_cert_json(&c[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        }

        acme_pg_admin_certs_free(c, n);

        return acme_admin_json_print(a);
    }

    printf("%-34s  %-20s  %-22s  %s\n", "SERIAL", "NOT AFTER", "ACCOUNT",
           "NAMES");

    for (i = 0; i < n; i++) {
        acme_admin_time(na, sizeof(na), c[i].not_after);

        nm = acme_admin_cert_names(&c[i]);
        names[0] = '\0';
        len = 0;

        json_array_foreach(nm, j, v) {
            if (len < sizeof(names)) {
                len += snprintf(names + len, sizeof(names) - len, "%s%s",
                                j ? "," : "", json_string_value(v));
            }
        }

        json_decref(nm);

        printf("%-34s  %-20s  %-22s  %s\n", c[i].serial, na, c[i].account,
               names);
    }

    acme_pg_admin_certs_free(c, n);

    return ACME_ADMIN_OK;
}


/* ---------------------------------------------------------------- */
/* orders */


static int
acme_admin_orders(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc;
    char                     upd[32], ids[1024];
    long                     limit;
    size_t                   i, n;
    json_t                  *a;
    acme_pg_t               *pg;
    const char              *status, *l;
    acme_pg_admin_order_t   *o;
    const acme_admin_opt_t   opts[] = {
        { "--status", &status },
        { "--limit", &l },
        { NULL, NULL }
    };

    status = "processing";
    l = NULL;
    limit = ACME_ADMIN_DEFAULT_LIMIT;

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    /* RFC 8555 7.1.6 order states */
    if (strcmp(status, "pending") != 0 && strcmp(status, "ready") != 0
        && strcmp(status, "processing") != 0 && strcmp(status, "valid") != 0
        && strcmp(status, "invalid") != 0)
    {
        return acme_admin_bad_usage(ad, "--status: \"%s\" is not pending, "
                                    "ready, processing, valid or invalid",
                                    status);
    }

    rc = acme_admin_limit(ad, l, &limit);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    if (acme_pg_admin_orders(pg, status, limit, &o, &n) != ACME_OK) {
        rc = acme_admin_fail("orders: %s", acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    if (ad->json) {
        a = json_array();

        for (i = 0; a && i < n; i++) {
            if (json_array_append_new(a, json_pack(
                    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
                    "id", o[i].public_id,
                    "account", o[i].account,
                    "ca", o[i].ca,
                    "status", o[i].status,
                    "identifiers", acme_admin_json_text(o[i].identifiers),
                    "created_at", acme_admin_json_time(o[i].created_at),
                    "updated_at", acme_admin_json_time(o[i].updated_at),
                    "expires", acme_admin_json_time(o[i].expires)))
                != 0)
            {
                json_decref(a);
                a = NULL;
            }
        }

        acme_pg_admin_orders_free(o, n);

        return acme_admin_json_print(a);
    }

    printf("%-22s  %-10s  %-20s  %-22s  %s\n", "ORDER", "STATUS", "UPDATED",
           "ACCOUNT", "IDENTIFIERS");

    for (i = 0; i < n; i++) {
        acme_admin_time(upd, sizeof(upd), o[i].updated_at);
        acme_admin_idents_text(ids, sizeof(ids), o[i].identifiers);
        printf("%-22s  %-10s  %-20s  %-22s  %s\n", o[i].public_id,
               o[i].status, upd, o[i].account, ids);
    }

    acme_pg_admin_orders_free(o, n);

    return ACME_ADMIN_OK;
}


static int
acme_admin_recover(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc;
    size_t                   n;
    int64_t                  age;
    acme_pg_t               *pg;
    const char              *a;
    const acme_admin_opt_t   opts[] = {
        { "--older-than", &a },
        { NULL, NULL }
    };

    a = NULL;
    age = ACME_ADMIN_RECOVER_AGE;

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    if (a && acme_admin_duration(a, INT_MAX, &age) != ACME_OK) {
        return acme_admin_bad_usage(ad, "--older-than: \"%s\" is not a "
                                    "duration such as 300, 10m or 1h", a);
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    /* DESIGN.md: a stuck order is failed, its serial stays reserved */
    if (acme_pg_orders_recover(pg, (int) age, &n) != ACME_OK) {
        rc = acme_admin_fail("recover: %s", acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    if (ad->json) {
        return acme_admin_json_print(json_pack("{s:I, s:I}",
                                               "recovered", (json_int_t) n,
                                               "older_than",
                                               (json_int_t) age));
    }

    printf("acme-server-admin: %zu order(s) in processing for more than "
           "%" PRId64 "s set invalid\n", n, age);

    return ACME_ADMIN_OK;
}


/* issue 8: the audit trail, filtered; --since/--until are ages ("7d":
 * from seven days ago) */
static int
acme_admin_audit(acme_admin_t *ad, int argc, char **argv)
{
    int                      rc;
    char                     at[32], serial[128];
    long                     limit;
    size_t                   i, n;
    json_t                  *a;
    time_t                   now, since, until;
    int64_t                  age;
    acme_pg_t               *pg;
    const char              *account, *ident, *ser, *sn, *un, *l;
    acme_pg_audit_t         *e;
    const acme_admin_opt_t   opts[] = {
        { "--account", &account },
        { "--identifier", &ident },
        { "--serial", &ser },
        { "--since", &sn },
        { "--until", &un },
        { "--limit", &l },
        { NULL, NULL }
    };

    account = ident = ser = sn = un = l = NULL;
    limit = ACME_ADMIN_DEFAULT_LIMIT;
    since = 0;
    until = 0;
    now = time(NULL);

    rc = acme_admin_args(ad, argc, argv, opts, NULL, 0, 0);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    if (sn) {
        if (acme_admin_duration(sn, INT_MAX, &age) != ACME_OK) {
            return acme_admin_bad_usage(ad, "--since: \"%s\" is not a "
                                        "duration such as 7d", sn);
        }

        since = now - (time_t) age;
    }

    if (un) {
        if (acme_admin_duration(un, INT_MAX, &age) != ACME_OK) {
            return acme_admin_bad_usage(ad, "--until: \"%s\" is not a "
                                        "duration such as 1h", un);
        }

        until = now - (time_t) age;
    }

    rc = acme_admin_limit(ad, l, &limit);
    if (rc != ACME_ADMIN_OK) {
        return rc;
    }

    if (ser && acme_admin_serial(ser, serial, sizeof(serial)) != ACME_OK) {
        return acme_admin_bad_usage(ad, "--serial: \"%s\" is not a "
                                    "hexadecimal serial", ser);
    }

    pg = acme_admin_open(ad, &rc);
    if (pg == NULL) {
        return rc;
    }

    if (acme_pg_audit_query(pg, account, ident, ser ? serial : NULL, since,
                            until, limit, &e, &n)
        != ACME_OK)
    {
        rc = acme_admin_fail("audit: %s", acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return rc;
    }

    acme_pg_close(pg);

    if (ad->json) {
        a = json_array();

        for (i = 0; a && i < n; i++) {
            if (json_array_append_new(a, json_pack(
                    "{s:I, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
                    "id", (json_int_t) e[i].id,
                    "at", acme_admin_json_time(e[i].at),
                    "ca", e[i].ca ? e[i].ca : "",
                    "event", e[i].event ? e[i].event : "",
                    "account", acme_admin_json_str(e[i].account),
                    "order", acme_admin_json_str(e[i].order_id),
                    "serial", acme_admin_json_str(e[i].serial),
                    "identifiers", acme_admin_json_text(e[i].identifiers),
                    "detail", acme_admin_json_text(e[i].detail)))
                != 0)
            {
                json_decref(a);
                a = NULL;
            }
        }

        acme_pg_audit_free(e, n);

        return acme_admin_json_print(a);
    }

    printf("%-20s  %-26s  %-22s  %-32s  %s\n", "AT", "EVENT", "ACCOUNT",
           "SERIAL", "DETAIL");

    for (i = 0; i < n; i++) {
        acme_admin_time(at, sizeof(at), e[i].at);
        printf("%-20s  %-26s  %-22s  %-32s  %s\n", at, e[i].event,
               e[i].account ? e[i].account : "-",
               e[i].serial ? e[i].serial : "-",
               e[i].detail ? e[i].detail : "");
    }

    acme_pg_audit_free(e, n);

    return ACME_ADMIN_OK;
}


/* ---------------------------------------------------------------- */


/* options before the command that take a value */
static int
acme_admin_global_value(const char *arg)
{
    return strcmp(arg, "--database") == 0 || strcmp(arg, "--config") == 0;
}


int
main(int argc, char **argv)
{
    int                      i, cmd, sub, rc, nargs;
    char                   **args;
    acme_admin_t             ad;
    const acme_admin_cmd_t  *c;

    memset(&ad, 0, sizeof(ad));

    /* the command is the first word that is neither an option nor the
     * value of --database or --config */
    cmd = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            acme_admin_usage(stdout);
            return ACME_ADMIN_OK;
        }

        if (argv[i][0] != '-') {
            cmd = i;
            break;
        }

        if (acme_admin_global_value(argv[i])) {
            i++;
        }
    }

    if (cmd == 0) {
        fprintf(stderr, "acme-server-admin: no command\n");
        acme_admin_usage(stderr);
        return ACME_ADMIN_USAGE;
    }

    c = NULL;
    sub = 0;

    for (i = 0; i < (int) ACME_ADMIN_NCMDS; i++) {
        if (strcmp(acme_admin_cmds[i].name, argv[cmd]) != 0) {
            continue;
        }

        if (acme_admin_cmds[i].sub == NULL) {
            c = &acme_admin_cmds[i];
            break;
        }

        if (cmd + 1 < argc
            && strcmp(acme_admin_cmds[i].sub, argv[cmd + 1]) == 0)
        {
            c = &acme_admin_cmds[i];
            sub = 1;
            break;
        }
    }

    if (c == NULL) {
        for (i = 0; i < (int) ACME_ADMIN_NCMDS; i++) {
            if (strcmp(acme_admin_cmds[i].name, argv[cmd]) == 0) {
                break;
            }
        }

        /* "eab --help": the usage, as README.md promises after a command */
        if (i < (int) ACME_ADMIN_NCMDS && cmd + 1 < argc
            && (strcmp(argv[cmd + 1], "-h") == 0
                || strcmp(argv[cmd + 1], "--help") == 0))
        {
            acme_admin_usage(stdout);
            return ACME_ADMIN_OK;
        }

        if (i < (int) ACME_ADMIN_NCMDS) {
            if (cmd + 1 < argc && argv[cmd + 1][0] != '-') {
                fprintf(stderr, "acme-server-admin: unknown subcommand "
                                "\"%s %s\", use one of: ", argv[cmd],
                        argv[cmd + 1]);

            } else {
                fprintf(stderr, "acme-server-admin: %s needs a "
                                "subcommand: ", argv[cmd]);
            }

            for ( /* void */ ; i < (int) ACME_ADMIN_NCMDS; i++) {
                if (strcmp(acme_admin_cmds[i].name, argv[cmd]) == 0) {
                    fprintf(stderr, "%s%s", acme_admin_cmds[i].sub,
                            i + 1 < (int) ACME_ADMIN_NCMDS
                            && strcmp(acme_admin_cmds[i + 1].name,
                                      argv[cmd]) == 0 ? ", " : "\n");
                }
            }

        } else {
            fprintf(stderr, "acme-server-admin: unknown command \"%s\"\n",
                    argv[cmd]);
        }

        acme_admin_usage(stderr);

        return ACME_ADMIN_USAGE;
    }

    /* the command's arguments: everything but the command words */
    args = calloc(argc, sizeof(char *));
    if (args == NULL) {
        return acme_admin_fail("out of memory");
    }

    nargs = 0;

    for (i = 1; i < argc; i++) {
        if (i != cmd && !(sub && i == cmd + 1)) {
            args[nargs++] = argv[i];
        }
    }

    ad.usage = c->usage;

    rc = c->handler(&ad, nargs, args);
    free(args);

    if (rc == ACME_ADMIN_HELP) {
        printf("usage: acme-server-admin %s [--json]\n"
               "           [--database CONNINFO | --config FILE]\n",
               c->usage);
        rc = ACME_ADMIN_OK;
    }

    return rc;
}
