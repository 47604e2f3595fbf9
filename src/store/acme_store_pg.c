/*
 * Copyright (C) nginx-acme-server authors
 *
 * PostgreSQL storage: every SQL statement of the project.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include "acme_store_pg.h"


#define ACME_PG_ERR_MAX  512
#define ACME_PG_MAX_SQL  (1024 * 1024)


#define ACME_PG_PREPARED_MAX  128


/* statements prepared on this connection: the caller's text pointer (a
 * literal, so the lookup is a pointer compare) and a copy to confirm it */
typedef struct {
    const char  *sql;
    char        *text;
    char         name[16];
} acme_pg_stmt_t;


struct acme_pg_s {
    PGconn          *conn;
    char            *conninfo;
    size_t           nstmts;
    unsigned         nprepared;      /* names used on this connection */
    int              outage;         /* the last failure was the server's */
    int              generic;        /* plan_cache_mode force_generic_plan */
    acme_pg_stmt_t   stmts[ACME_PG_PREPARED_MAX];
    char             err[ACME_PG_ERR_MAX];
};


static int acme_pg_fail(acme_pg_t *pg, const char *what, PGresult *res);
static int acme_pg_generic_set(acme_pg_t *pg);
static PGresult *acme_pg_run(acme_pg_t *pg, const char *sql, int n,
    const char *const *params, ExecStatusType want);
static PGresult *acme_pg_run_bin(acme_pg_t *pg, const char *sql, int n,
    const char *const *params, const int *lengths, const int *formats,
    ExecStatusType want);
static int acme_pg_cmd(acme_pg_t *pg, const char *sql, int n,
    const char *const *params);
static void acme_pg_rollback(acme_pg_t *pg);
static char *acme_pg_strdup(PGresult *res, int row, int col);
static time_t acme_pg_time(PGresult *res, int row, int col);
static void acme_pg_copy(char *dst, size_t size, PGresult *res, int row,
    int col);
static int acme_pg_split_ids(const char *s, char ***ids, size_t *n);


static void
acme_pg_stmts_clear(acme_pg_t *pg)
{
    size_t  i;

    for (i = 0; i < pg->nstmts; i++) {
        free(pg->stmts[i].text);
    }

    pg->nstmts = 0;
    pg->nprepared = 0;
}


acme_pg_t *
acme_pg_open(const char *conninfo)
{
    acme_pg_t  *pg;

    pg = calloc(1, sizeof(acme_pg_t));
    if (pg == NULL) {
        return NULL;
    }

    pg->conninfo = strdup(conninfo);
    if (pg->conninfo == NULL) {
        free(pg);
        return NULL;
    }

    (void) acme_pg_ensure(pg);

    return pg;
}


int
acme_pg_ensure(acme_pg_t *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) {
        return ACME_OK;
    }

    if (pg->conn) {
        PQfinish(pg->conn);
    }

    /* prepared statements die with their connection */
    acme_pg_stmts_clear(pg);
    pg->conn = PQconnectdb(pg->conninfo);

    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        snprintf(pg->err, sizeof(pg->err), "connect: %s",
                 pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        pg->outage = 1;
        return ACME_ERROR;
    }

    if (pg->generic) {
        return acme_pg_generic_set(pg);
    }

    return ACME_OK;
}


/* SET plan_cache_mode on this connection: ACME_OK, or ACME_ERROR with the
 * connection dropped (so that acme_pg_ensure() tries again) */
static int
acme_pg_generic_set(acme_pg_t *pg)
{
    PGresult  *res;

    res = PQexec(pg->conn, "SET plan_cache_mode = force_generic_plan");

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(pg->err, sizeof(pg->err), "SET plan_cache_mode: %s",
                 PQerrorMessage(pg->conn));
        PQclear(res);
        PQfinish(pg->conn);
        pg->conn = NULL;
        pg->outage = 1;
        return ACME_ERROR;
    }

    PQclear(res);

    return ACME_OK;
}


int
acme_pg_generic_plans(acme_pg_t *pg)
{
    pg->generic = 1;

    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) {
        return acme_pg_generic_set(pg);
    }

    return ACME_OK;
}


void
acme_pg_close(acme_pg_t *pg)
{
    if (pg == NULL) {
        return;
    }

    if (pg->conn) {
        PQfinish(pg->conn);
    }

    acme_pg_stmts_clear(pg);
    free(pg->conninfo);
    free(pg);
}


const char *
acme_pg_errmsg(acme_pg_t *pg)
{
    return pg->err;
}


int
acme_pg_ping(acme_pg_t *pg)
{
    PGresult  *res;

    res = acme_pg_run(pg, "SELECT 1", 0, NULL, PGRES_TUPLES_OK);

    /* a broken connection is noticed here; the next call reconnects */
    if (res == NULL) {
        return ACME_ERROR;
    }

    PQclear(res);

    return ACME_OK;
}


int
acme_pg_outage(acme_pg_t *pg)
{
    return pg->outage;
}


static int
acme_pg_fail(acme_pg_t *pg, const char *what, PGresult *res)
{
    const char  *msg, *state;

    /* SQLSTATE class 08 (connection exception) and 57P01-57P03 (admin or
     * crash shutdown, cannot connect now) mean the server is away */
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    pg->outage = pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK
                 || (state && (strncmp(state, "08", 2) == 0
                               || strncmp(state, "57P0", 4) == 0));

    msg = res ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || *msg == '\0') {
        msg = pg->conn ? PQerrorMessage(pg->conn) : "no connection";
    }

    snprintf(pg->err, sizeof(pg->err), "%s: %s", what, msg);

    /* strip libpq's trailing newline */
    pg->err[strcspn(pg->err, "\n")] = '\0';

    return ACME_ERROR;
}


/*
 * Runs sql with params (text, or binary where formats[i] is 1 with
 * lengths[i] octets; both arrays may be NULL), as a statement prepared
 * once per connection when it is a query (parsing and planning is most of
 * a short query's cost); utility statements (BEGIN, DDL) run unprepared.
 */
static PGresult *
acme_pg_exec(acme_pg_t *pg, const char *sql, int n,
    const char *const *params, const int *lengths, const int *formats)
{
    size_t           i;
    PGresult        *res;
    acme_pg_stmt_t  *st;

    for (i = 0; i < pg->nstmts; i++) {
        if (pg->stmts[i].sql == sql && strcmp(pg->stmts[i].text, sql) == 0) {
            return PQexecPrepared(pg->conn, pg->stmts[i].name, n, params,
                                  lengths, formats, 0);
        }
    }

    if (pg->nstmts == ACME_PG_PREPARED_MAX
        || !(strncmp(sql, "SELECT", 6) == 0 || strncmp(sql, "INSERT", 6) == 0
             || strncmp(sql, "UPDATE", 6) == 0
             || strncmp(sql, "DELETE", 6) == 0
             || strncmp(sql, "WITH", 4) == 0))
    {
        return PQexecParams(pg->conn, sql, n, NULL, params, lengths,
                            formats, 0);
    }

    st = &pg->stmts[pg->nstmts];
    snprintf(st->name, sizeof(st->name), "s%u", pg->nprepared++);

    res = PQprepare(pg->conn, st->name, sql, n, NULL);

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        /* the same error comes back from the plain call, with context */
        PQclear(res);
        return PQexecParams(pg->conn, sql, n, NULL, params, lengths,
                            formats, 0);
    }

    PQclear(res);

    st->text = strdup(sql);
    if (st->text == NULL) {
        /* prepared but not recorded: a later call prepares it afresh
         * under another name */
        return PQexecPrepared(pg->conn, st->name, n, params, lengths,
                              formats, 0);
    }

    st->sql = sql;
    pg->nstmts++;

    return PQexecPrepared(pg->conn, st->name, n, params, lengths, formats,
                          0);
}


static PGresult *
acme_pg_run(acme_pg_t *pg, const char *sql, int n, const char *const *params,
    ExecStatusType want)
{
    return acme_pg_run_bin(pg, sql, n, params, NULL, NULL, want);
}


static PGresult *
acme_pg_run_bin(acme_pg_t *pg, const char *sql, int n,
    const char *const *params, const int *lengths, const int *formats,
    ExecStatusType want)
{
    PGresult                 *res;
    PGTransactionStatusType   trans;

    pg->outage = 0;

    if (acme_pg_ensure(pg) != ACME_OK) {
        return NULL;
    }

    trans = PQtransactionStatus(pg->conn);
    res = acme_pg_exec(pg, sql, n, params, lengths, formats);

    /* a connection that died while idle (PostgreSQL restarted): outside
     * a transaction nothing was done, so once more on a new one */
    if ((res == NULL || PQresultStatus(res) != want)
        && PQstatus(pg->conn) == CONNECTION_BAD && trans == PQTRANS_IDLE)
    {
        PQclear(res);
        res = NULL;

        if (acme_pg_ensure(pg) == ACME_OK) {
            res = acme_pg_exec(pg, sql, n, params, lengths, formats);
        }
    }

    if (res == NULL || PQresultStatus(res) != want) {
        acme_pg_fail(pg, "query", res);
        PQclear(res);
        return NULL;
    }

    return res;
}


static int
acme_pg_cmd(acme_pg_t *pg, const char *sql, int n, const char *const *params)
{
    PGresult  *res;

    res = acme_pg_run(pg, sql, n, params, PGRES_COMMAND_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    PQclear(res);

    return ACME_OK;
}


static void
acme_pg_rollback(acme_pg_t *pg)
{
    PGresult  *res;

    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK
        && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
    {
        res = PQexec(pg->conn, "ROLLBACK");
        PQclear(res);
    }
}


static char *
acme_pg_strdup(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return NULL;
    }

    return strdup(PQgetvalue(res, row, col));
}


static time_t
acme_pg_time(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return 0;
    }

    return (time_t) strtoll(PQgetvalue(res, row, col), NULL, 10);
}


static void
acme_pg_copy(char *dst, size_t size, PGresult *res, int row, int col)
{
    snprintf(dst, size, "%s", PQgetvalue(res, row, col));
}


/* ---------------------------------------------------------------- */
/* migrations */


static int
acme_pg_migration_name(const struct dirent *d)
{
    size_t  n;

    n = strlen(d->d_name);

    return n > 9 && d->d_name[0] >= '0' && d->d_name[0] <= '9'
           && d->d_name[4] == '_' && strcmp(d->d_name + n - 4, ".sql") == 0;
}


static char *
acme_pg_read_file(const char *path)
{
    long   len;
    char  *buf;
    FILE  *f;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    buf = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0
        && len < ACME_PG_MAX_SQL && fseek(f, 0, SEEK_SET) == 0)
    {
        buf = malloc(len + 1);
        if (buf && fread(buf, 1, len, f) != (size_t) len) {
            free(buf);
            buf = NULL;

        } else if (buf) {
            buf[len] = '\0';
        }
    }

    fclose(f);

    return buf;
}


int
acme_pg_migrate(acme_pg_t *pg, const char *dir, int *applied,
    void (*log)(const char *msg))
{
    int              i, n, rc;
    char             path[4096], version[256], msg[512];
    char            *sql;
    PGresult        *res;
    const char      *params[1];
    struct dirent  **list;

    *applied = 0;

    if (acme_pg_ensure(pg) != ACME_OK) {
        return ACME_ERROR;
    }

    n = scandir(dir, &list, acme_pg_migration_name, alphasort);
    if (n < 0) {
        snprintf(pg->err, sizeof(pg->err), "cannot read directory \"%s\"",
                 dir);
        return ACME_ERROR;
    }

    rc = ACME_ERROR;

    /* one migrator at a time */
    res = acme_pg_run(pg, "SELECT pg_advisory_lock(8555)", 0, NULL,
                      PGRES_TUPLES_OK);
    if (res == NULL) {
        goto done;
    }

    PQclear(res);

    if (acme_pg_cmd(pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version text PRIMARY KEY, applied_at timestamptz "
                        "NOT NULL DEFAULT now())", 0, NULL) != ACME_OK)
    {
        goto unlock;
    }

    for (i = 0; i < n; i++) {
        snprintf(version, sizeof(version), "%.*s",
                 (int) strlen(list[i]->d_name) - 4, list[i]->d_name);
        params[0] = version;

        res = acme_pg_run(pg, "SELECT 1 FROM schema_migrations "
                              "WHERE version = $1", 1, params,
                          PGRES_TUPLES_OK);
        if (res == NULL) {
            goto unlock;
        }

        if (PQntuples(res) > 0) {
            PQclear(res);
            continue;
        }

        PQclear(res);

        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        sql = acme_pg_read_file(path);
        if (sql == NULL) {
            snprintf(pg->err, sizeof(pg->err), "cannot read \"%.400s\"",
                     path);
            goto unlock;
        }

        if (acme_pg_cmd(pg, "BEGIN", 0, NULL) != ACME_OK) {
            free(sql);
            goto unlock;
        }

        res = PQexec(pg->conn, sql);
        free(sql);

        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            acme_pg_fail(pg, version, res);
            PQclear(res);
            acme_pg_rollback(pg);
            goto unlock;
        }

        PQclear(res);

        if (acme_pg_cmd(pg, "INSERT INTO schema_migrations (version) "
                            "VALUES ($1)", 1, params) != ACME_OK
            || acme_pg_cmd(pg, "COMMIT", 0, NULL) != ACME_OK)
        {
            acme_pg_rollback(pg);
            goto unlock;
        }

        (*applied)++;

        if (log) {
            snprintf(msg, sizeof(msg), "applied %s", version);
            log(msg);
        }
    }

    rc = ACME_OK;

unlock:

    res = PQexec(pg->conn, "SELECT pg_advisory_unlock(8555)");
    PQclear(res);

done:

    for (i = 0; i < n; i++) {
        free(list[i]);
    }

    free(list);

    return rc;
}


/* ---------------------------------------------------------------- */
/* accounts */


#define ACME_PG_ACCOUNT_COLS                                                 \
    "id, public_id, status, jwk, contact, tos_agreed, "                      \
    "extract(epoch from created_at)::bigint, eab_binding"

/* the same, of accounts "acc" in a join */
#define ACME_PG_ACCOUNT_ACC_COLS                                             \
    "acc.id, acc.public_id, acc.status, acc.jwk, acc.contact, "              \
    "acc.tos_agreed, extract(epoch from acc.created_at)::bigint, "          \
    "acc.eab_binding"

#define ACME_PG_ACCOUNT_NCOLS  8


static int
acme_pg_account_row(PGresult *res, acme_account_t *a)
{
    memset(a, 0, sizeof(*a));

    if (PQntuples(res) == 0) {
        return ACME_NOT_FOUND;
    }

    a->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    acme_pg_copy(a->public_id, sizeof(a->public_id), res, 0, 1);
    acme_pg_copy(a->status, sizeof(a->status), res, 0, 2);
    a->jwk = acme_pg_strdup(res, 0, 3);
    a->contact = acme_pg_strdup(res, 0, 4);
    a->tos_agreed = PQgetvalue(res, 0, 5)[0] == 't';
    a->created_at = acme_pg_time(res, 0, 6);
    a->eab_binding = acme_pg_strdup(res, 0, 7);

    if (a->jwk == NULL || a->contact == NULL) {
        acme_account_clear(a);
        return ACME_ERROR;
    }

    return ACME_OK;
}


static int
acme_pg_account_query(acme_pg_t *pg, const char *sql, const char *ca,
    const char *key, acme_account_t *a)
{
    int          rc;
    PGresult    *res;
    const char  *params[2];

    params[0] = ca;
    params[1] = key;

    res = acme_pg_run(pg, sql, 2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        memset(a, 0, sizeof(*a));
        return ACME_ERROR;
    }

    rc = acme_pg_account_row(res, a);
    PQclear(res);

    return rc;
}


int
acme_pg_account_by_thumbprint(acme_pg_t *pg, const char *ca,
    const char *thumbprint, acme_account_t *a)
{
    return acme_pg_account_query(pg,
               "SELECT " ACME_PG_ACCOUNT_COLS " FROM accounts "
               "WHERE ca = $1 AND jwk_thumbprint = $2", ca, thumbprint, a);
}


int
acme_pg_account_by_public_id(acme_pg_t *pg, const char *ca,
    const char *public_id, acme_account_t *a)
{
    return acme_pg_account_query(pg,
               "SELECT " ACME_PG_ACCOUNT_COLS " FROM accounts "
               "WHERE ca = $1 AND public_id = $2", ca, public_id, a);
}


int
acme_pg_account_create(acme_pg_t *pg, const char *ca, const char *public_id,
    const char *thumbprint, const char *jwk, const char *contact,
    int tos_agreed, const char *eab_binding, acme_account_t *a)
{
    int          rc;
    PGresult    *res;
    const char  *params[7];

    params[0] = public_id;
    params[1] = ca;
    params[2] = thumbprint;
    params[3] = jwk;
    params[4] = contact;
    params[5] = tos_agreed ? "true" : "false";
    params[6] = eab_binding;

    /* the UNIQUE (ca, jwk_thumbprint) index settles a race of two
     * newAccount requests with one key */
    /* one statement: the account and its audit event (issue 8) */
    res = acme_pg_run(pg,
              "WITH a AS (INSERT INTO accounts (public_id, ca, "
              "jwk_thumbprint, jwk, contact, tos_agreed, eab_binding) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7) "
              "ON CONFLICT (ca, jwk_thumbprint) DO NOTHING "
              "RETURNING " ACME_PG_ACCOUNT_COLS "), "
              "e AS (INSERT INTO audit_events (ca, event, account, detail) "
              "SELECT $2, 'account.created', a.public_id, "
              "json_build_object('key_thumbprint', $3::text, 'contact', "
              "$5::json, 'tos_agreed', $6::boolean)::text FROM a) "
              "SELECT * FROM a", 7, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        memset(a, 0, sizeof(*a));
        return ACME_ERROR;
    }

    rc = acme_pg_account_row(res, a);
    PQclear(res);

    return rc == ACME_NOT_FOUND ? ACME_CONFLICT : rc;
}


int
acme_pg_account_update(acme_pg_t *pg, int64_t id, const char *contact,
    const char *status)
{
    int          n;
    char         idbuf[32];
    PGresult    *res;
    const char  *params[3];

    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    params[0] = idbuf;
    params[1] = contact;
    params[2] = status;

    /* RFC 8555 7.1.6: valid -> deactivated only; nothing leaves the final
     * states */
    res = acme_pg_run(pg,
              "WITH a AS (UPDATE accounts SET contact = coalesce($2, "
              "contact), status = coalesce($3, status) "
              "WHERE id = $1 AND status = 'valid' "
              "RETURNING id, ca, public_id, contact, status), "
              "e AS (INSERT INTO audit_events (ca, event, account, detail) "
              "SELECT a.ca, CASE WHEN $3::text = 'deactivated' "
              "THEN 'account.deactivated' ELSE 'account.updated' END, "
              "a.public_id, json_build_object('contact', a.contact::json, "
              "'status', a.status)::text FROM a) "
              "SELECT id FROM a", 3, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    n = PQntuples(res);
    PQclear(res);

    return n ? ACME_OK : ACME_CONFLICT;
}


static int
acme_pg_strv(PGresult *res, char ***ids, size_t *n)
{
    int  i, rows;

    *ids = NULL;
    *n = 0;
    rows = PQntuples(res);

    if (rows == 0) {
        return ACME_OK;
    }

    *ids = calloc(rows, sizeof(char *));
    if (*ids == NULL) {
        return ACME_ERROR;
    }

    for (i = 0; i < rows; i++) {
        (*ids)[i] = strdup(PQgetvalue(res, i, 0));
        if ((*ids)[i] == NULL) {
            acme_pg_strv_free(*ids, i);
            *ids = NULL;
            return ACME_ERROR;
        }
    }

    *n = rows;

    return ACME_OK;
}


int
acme_pg_account_orders(acme_pg_t *pg, int64_t account_id, const char *cursor,
    size_t limit, char ***ids, size_t *n)
{
    int          rc;
    char         acct[32], lim[32];
    PGresult    *res;
    const char  *params[3];

    snprintf(acct, sizeof(acct), "%" PRId64, account_id);
    snprintf(lim, sizeof(lim), "%zu", limit);
    params[0] = acct;
    params[1] = lim;
    params[2] = cursor ? cursor : "";

    res = acme_pg_run(pg,
              "SELECT public_id FROM orders WHERE account_id = $1 "
              "AND status <> 'invalid' AND id > coalesce((SELECT id "
              "FROM orders WHERE public_id = $3 AND account_id = $1), 0) "
              "ORDER BY id LIMIT $2", 3, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        *ids = NULL;
        *n = 0;
        return ACME_ERROR;
    }

    rc = acme_pg_strv(res, ids, n);
    PQclear(res);

    return rc;
}


static int
acme_pg_count(acme_pg_t *pg, const char *sql, int n, const char *const *params,
    long long *count)
{
    PGresult  *res;

    res = acme_pg_run(pg, sql, n, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    *count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    return ACME_OK;
}


int
acme_pg_account_pending_authz(acme_pg_t *pg, int64_t account_id,
    long long *count)
{
    char         acct[32];
    const char  *params[1];

    snprintf(acct, sizeof(acct), "%" PRId64, account_id);
    params[0] = acct;

    return acme_pg_count(pg, "SELECT count(*) FROM authorizations "
                             "WHERE account_id = $1 AND status = 'pending' "
                             "AND expires > now()", 1, params, count);
}


int
acme_pg_account_failed_validations(acme_pg_t *pg, int64_t account_id,
    const char *type, const char *value, int window, long long *count)
{
    char         acct[32], win[32];
    const char  *params[4];

    snprintf(acct, sizeof(acct), "%" PRId64, account_id);
    snprintf(win, sizeof(win), "%d", window);
    params[0] = acct;
    params[1] = type;
    params[2] = value;
    params[3] = win;

    return acme_pg_count(pg, "SELECT count(*) FROM challenges c "
                             "JOIN authorizations a "
                             "ON a.id = c.authorization_id "
                             "WHERE a.account_id = $1 "
                             "AND a.identifier_type = $2 "
                             "AND a.identifier_value = $3 "
                             "AND c.status = 'invalid' AND c.updated_at > "
                             "now() - make_interval(secs => $4)",
                         4, params, count);
}


void
acme_account_clear(acme_account_t *a)
{
    free(a->jwk);
    free(a->contact);
    free(a->eab_binding);
    memset(a, 0, sizeof(*a));
}


/* ---------------------------------------------------------------- */
/* orders */


static void
acme_pg_time_param(char *buf, size_t size, time_t t, const char **param)
{
    if (t == 0) {
        *param = NULL;
        return;
    }

    snprintf(buf, size, "%lld", (long long) t);
    *param = buf;
}


/*
 * A PostgreSQL array literal of n strings ({"a","b"}), each quoted, with
 * '"' and '\' escaped; NULL entries become NULL.  Returns a malloc'ed
 * string (caller frees) or NULL on allocation failure.
 */
static char *
acme_pg_text_array(const char *const *v, size_t n)
{
    char        *out, *p;
    size_t       i, len;
    const char  *s;

    len = 3;

    for (i = 0; i < n; i++) {
        len += v[i] ? 2 * strlen(v[i]) + 3 : 5;
    }

    out = malloc(len);
    if (out == NULL) {
        return NULL;
    }

    p = out;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        if (v[i] == NULL) {
            memcpy(p, "NULL", 4);
            p += 4;
            continue;
        }

        *p++ = '"';

        for (s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\') {
                *p++ = '\\';
            }

            *p++ = *s;
        }

        *p++ = '"';
    }

    *p++ = '}';
    *p = '\0';

    return out;
}


/*
 * The columns acme_pg_order_row() reads, of an order "o": the certificate's
 * public id (cert, an SQL expression) and the authorizations' public ids
 * and state (authz, an SQL FROM item with public_id, id, status and
 * expires) are the caller's, so that the statements that change an order
 * can return it as it is after the change.
 */
/* the columns of ACME_PG_ORDER_COLS, which acme_pg_order_row() reads */
#define ACME_PG_ORDER_NCOLS  12
#define ACME_PG_ORDER_COLS(cert, authz)                                      \
    "o.id, o.public_id, o.account_id, o.status, "                            \
    "extract(epoch from o.expires)::bigint, "                                \
    "extract(epoch from o.not_before)::bigint, "                             \
    "extract(epoch from o.not_after)::bigint, "                              \
    "o.identifiers, o.error, " cert ", "                                     \
    "(SELECT string_agg(x.public_id, ',' ORDER BY x.id) FROM " authz "), "   \
    "EXISTS (SELECT 1 FROM " authz " WHERE x.expires <= now() "             \
    "OR x.status IN ('invalid', 'deactivated', 'revoked'))"

/*
 * The authorizations of an order (order: an SQL expression of its id),
 * all their columns, each looked up by its primary key.  A plain join let
 * the planner, whose estimate for one order's links is 30 rows until
 * order_authorizations is analyzed (a new database, and then a prepared
 * plan kept), hash the whole authorizations table for every order read:
 * 1-1.5 ms at 4,000 rows, growing with the table.  OFFSET 0 keeps the
 * lookup a subquery run per link.
 */
#define ACME_PG_AUTHZ_OF(order)                                              \
    "(SELECT az.* FROM order_authorizations oa CROSS JOIN LATERAL "          \
    "(SELECT * FROM authorizations WHERE id = oa.authorization_id "          \
    "OFFSET 0) az WHERE oa.order_id = " order ")"

/* the authorizations of order "o", as stored */
#define ACME_PG_ORDER_AUTHZ  ACME_PG_AUTHZ_OF("o.id") " x"


/* the order in row 0 of ACME_PG_ORDER_COLS from column b: ACME_OK,
 * ACME_NOT_FOUND (no row, or a NULL id) or ACME_ERROR (out of memory); *o
 * as for acme_pg_order_get() */
static int
acme_pg_order_row(PGresult *res, int b, acme_order_t *o)
{
    int  rc;

    memset(o, 0, sizeof(*o));

    if (PQntuples(res) == 0 || PQgetisnull(res, 0, b)) {
        return ACME_NOT_FOUND;
    }

    o->id = strtoll(PQgetvalue(res, 0, b), NULL, 10);
    acme_pg_copy(o->public_id, sizeof(o->public_id), res, 0, b + 1);
    o->account_id = strtoll(PQgetvalue(res, 0, b + 2), NULL, 10);
    acme_pg_copy(o->status, sizeof(o->status), res, 0, b + 3);
    o->expires = acme_pg_time(res, 0, b + 4);
    o->not_before = acme_pg_time(res, 0, b + 5);
    o->not_after = acme_pg_time(res, 0, b + 6);
    o->identifiers = acme_pg_strdup(res, 0, b + 7);
    o->error = acme_pg_strdup(res, 0, b + 8);
    acme_pg_copy(o->cert_id, sizeof(o->cert_id), res, 0, b + 9);

    o->authz_unusable = PQgetvalue(res, 0, b + 11)[0] == 't';
    o->caa_age = LLONG_MAX;

    rc = acme_pg_split_ids(PQgetisnull(res, 0, b + 10) ? NULL
                           : PQgetvalue(res, 0, b + 10), &o->authz_ids,
                           &o->nauthz);

    if (rc != ACME_OK || o->identifiers == NULL) {
        acme_order_clear(o);
        return ACME_ERROR;
    }

    return ACME_OK;
}


/*
 * One statement (so one implicit transaction): the requested
 * authorizations (r) with the account's reusable one for each (RFC 8555
 * 7.1.3: valid, an hour or more left, validated at most $12 seconds ago),
 * the new authorizations (na) and their challenges, the order (o: capped
 * by the reused authorizations' expiry, "ready" at once when every one was
 * reused; authz_pending counts the new ones for acme_pg_chall_result()),
 * order_authorizations in identifier order, and the audit event.  Row ids
 * follow the identifiers' and challenge types' order, as before.
 */
static const char  acme_pg_order_create_sql[] =
    "WITH r AS (SELECT r.n, r.public_id, r.itype, r.ivalue, r.wildcard, "
    "u.id AS reused, u.public_id AS reused_public_id, "
    "u.expires AS reused_expires "
    "FROM unnest($7::text[], $8::text[], $9::text[], $10::boolean[]) "
    "WITH ORDINALITY AS r(public_id, itype, ivalue, wildcard, n) "
    "LEFT JOIN LATERAL (SELECT a.id, a.public_id, a.expires "
    "FROM authorizations a WHERE $12::int > 0 AND a.account_id = $2 "
    "AND a.identifier_type = r.itype AND a.identifier_value = r.ivalue "
    "AND a.wildcard = r.wildcard AND a.status = 'valid' "
    "AND a.expires > now() + interval '1 hour' "
    "AND EXISTS (SELECT 1 FROM challenges c "
    "WHERE c.authorization_id = a.id AND c.status = 'valid' "
    "AND c.validated > now() - make_interval(secs => $12::int)) "
    "ORDER BY a.expires DESC LIMIT 1) u ON true), "
    "na AS (INSERT INTO authorizations (public_id, account_id, "
    "identifier_type, identifier_value, wildcard, expires) "
    "SELECT public_id, $2, itype, ivalue, wildcard, to_timestamp($11) "
    "FROM r WHERE reused IS NULL ORDER BY n "
    "RETURNING id, public_id, status, expires), "
    "o AS (INSERT INTO orders (public_id, account_id, expires, "
    "not_before, not_after, identifiers, status, authz_pending) "
    "SELECT $1, $2, LEAST(to_timestamp($3), min(reused_expires)), "
    "to_timestamp($4), to_timestamp($5), $6, "
    "CASE WHEN count(*) FILTER (WHERE reused IS NULL) = 0 "
    "THEN 'ready' ELSE 'pending' END, "
    "count(*) FILTER (WHERE reused IS NULL) FROM r RETURNING *), "
    "oa AS (INSERT INTO order_authorizations (order_id, authorization_id) "
    "SELECT o.id, coalesce(r.reused, na.id) FROM r "
    "LEFT JOIN na ON na.public_id = r.public_id CROSS JOIN o "
    "ORDER BY r.n), "
    "ch AS (INSERT INTO challenges (public_id, authorization_id, type, "
    "token) SELECT c.public_id, na.id, c.type, c.token "
    "FROM unnest($13::text[], $14::text[], $15::text[], $16::text[]) "
    "WITH ORDINALITY AS c(public_id, authz, type, token, n) "
    "JOIN na ON na.public_id = c.authz ORDER BY c.n), "
    "e AS (INSERT INTO audit_events (ca, event, account, order_id, "
    "identifiers) SELECT acc.ca, 'order.created', acc.public_id, "
    "o.public_id, o.identifiers FROM o "
    "JOIN accounts acc ON acc.id = o.account_id) "
    "SELECT " ACME_PG_ORDER_COLS("''",
        "(SELECT coalesce(r.reused_public_id, r.public_id) AS public_id, "
        "coalesce(r.reused, na.id) AS id, "
        "CASE WHEN r.reused IS NULL THEN na.status ELSE 'valid' END "
        "AS status, coalesce(r.reused_expires, na.expires) AS expires "
        "FROM r LEFT JOIN na ON na.public_id = r.public_id) x")
    " FROM o";


int
acme_pg_order_create(acme_pg_t *pg, int64_t account_id,
    const char *public_id, time_t expires, time_t not_before,
    time_t not_after, const char *identifiers_json,
    const acme_pg_new_authz_t *authz, size_t nauthz, time_t authz_expires,
    int reuse_window, acme_order_t *o)
{
    int           rc;
    char          acct[32], exp[32], nb[32], na[32], aexp[32], reuse[32];
    char         *arrays[8];
    size_t        i, j, k, nch;
    PGresult     *res;
    const char   *params[16];
    const char  **v[8];

    memset(o, 0, sizeof(*o));
    memset(arrays, 0, sizeof(arrays));
    memset(v, 0, sizeof(v));

    snprintf(acct, sizeof(acct), "%" PRId64, account_id);
    snprintf(exp, sizeof(exp), "%lld", (long long) expires);
    snprintf(aexp, sizeof(aexp), "%lld", (long long) authz_expires);
    snprintf(reuse, sizeof(reuse), "%d", reuse_window);

    /* v[0..3]: per authorization; v[4..7]: per challenge */
    for (i = 0; i < 8; i++) {
        v[i] = calloc(3 * nauthz + 1, sizeof(char *));
        if (v[i] == NULL) {
            goto nomem;
        }
    }

    nch = 0;

    for (i = 0; i < nauthz; i++) {
        v[0][i] = authz[i].authz_id;
        v[1][i] = authz[i].type;
        v[2][i] = authz[i].value;
        v[3][i] = authz[i].wildcard ? "true" : "false";

        for (j = 0; j < 3 && authz[i].chall_types[j]; j++) {
            v[4][nch] = authz[i].chall_ids[j];
            v[5][nch] = authz[i].authz_id;
            v[6][nch] = authz[i].chall_types[j];
            v[7][nch] = authz[i].tokens[j];
            nch++;
        }
    }

    for (k = 0; k < 8; k++) {
        arrays[k] = acme_pg_text_array(v[k], k < 4 ? nauthz : nch);
        if (arrays[k] == NULL) {
            goto nomem;
        }
    }

    params[0] = public_id;
    params[1] = acct;
    params[2] = exp;
    acme_pg_time_param(nb, sizeof(nb), not_before, &params[3]);
    acme_pg_time_param(na, sizeof(na), not_after, &params[4]);
    params[5] = identifiers_json;

    for (k = 0; k < 4; k++) {
        params[6 + k] = arrays[k];
        params[12 + k] = arrays[4 + k];
    }

    params[10] = aexp;
    params[11] = reuse;

    res = acme_pg_run(pg, acme_pg_order_create_sql, 16, params,
                      PGRES_TUPLES_OK);

    for (k = 0; k < 8; k++) {
        free(arrays[k]);
        free(v[k]);
    }

    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = acme_pg_order_row(res, 0, o);
    PQclear(res);

    if (rc == ACME_NOT_FOUND) {
        snprintf(pg->err, sizeof(pg->err), "order %s: no row returned",
                 public_id);
        return ACME_ERROR;
    }

    return rc;

nomem:

    for (k = 0; k < 8; k++) {
        free(arrays[k]);
        free(v[k]);
    }

    snprintf(pg->err, sizeof(pg->err), "out of memory");

    return ACME_ERROR;
}


static int
acme_pg_split_ids(const char *s, char ***ids, size_t *n)
{
    size_t       i, count;
    const char  *p, *e;

    *ids = NULL;
    *n = 0;

    if (s == NULL || *s == '\0') {
        return ACME_OK;
    }

    count = 1;
    for (p = s; *p; p++) {
        count += (*p == ',');
    }

    *ids = calloc(count, sizeof(char *));
    if (*ids == NULL) {
        return ACME_ERROR;
    }

    p = s;

    for (i = 0; i < count; i++) {
        e = strchr(p, ',');
        if (e == NULL) {
            e = p + strlen(p);
        }

        (*ids)[i] = strndup(p, e - p);
        if ((*ids)[i] == NULL) {
            acme_pg_strv_free(*ids, i);
            *ids = NULL;
            return ACME_ERROR;
        }

        p = e + 1;
    }

    *n = count;

    return ACME_OK;
}


int
acme_pg_order_get(acme_pg_t *pg, const char *public_id, acme_order_t *o)
{
    int          rc;
    PGresult    *res;
    const char  *params[1];

    memset(o, 0, sizeof(*o));
    params[0] = public_id;

    res = acme_pg_run(pg,
              "SELECT " ACME_PG_ORDER_COLS("coalesce(c.public_id, '')",
                                           ACME_PG_ORDER_AUTHZ)
              " FROM orders o LEFT JOIN certificates c "
              "ON c.id = o.certificate_id WHERE o.public_id = $1",
              1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = acme_pg_order_row(res, 0, o);
    PQclear(res);

    return rc;
}


void
acme_order_clear(acme_order_t *o)
{
    free(o->identifiers);
    free(o->error);
    acme_pg_strv_free(o->authz_ids, o->nauthz);
    memset(o, 0, sizeof(*o));
}


void
acme_pg_strv_free(char **v, size_t n)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        free(v[i]);
    }

    free(v);
}


/* ---------------------------------------------------------------- */
/* authorizations and challenges */


#define ACME_PG_AUTHZ_COLS                                                   \
    "a.id, a.public_id, a.account_id, a.identifier_type, "                   \
    "a.identifier_value, a.wildcard, a.status, "                             \
    "extract(epoch from a.expires)::bigint, "                                \
    "c.id, c.public_id, c.type, c.token, c.status, "                         \
    "extract(epoch from c.validated)::bigint, c.error"

#define ACME_PG_AUTHZ_SELECT                                                 \
    "SELECT " ACME_PG_AUTHZ_COLS " "                                         \
    "FROM authorizations a JOIN challenges c ON c.authorization_id = a.id "


/* the authorization with one challenge a row, of ACME_PG_AUTHZ_COLS from
 * column b: ACME_OK, ACME_NOT_FOUND (no row, or a NULL id) or ACME_ERROR
 * (out of memory) */
static int
acme_pg_authz_rows(PGresult *res, int b, acme_authz_t *az)
{
    int            i, n;
    acme_chall_t  *ch;

    memset(az, 0, sizeof(*az));
    n = PQntuples(res);

    if (n == 0 || PQgetisnull(res, 0, b)) {
        return ACME_NOT_FOUND;
    }

    az->id = strtoll(PQgetvalue(res, 0, b), NULL, 10);
    acme_pg_copy(az->public_id, sizeof(az->public_id), res, 0, b + 1);
    az->account_id = strtoll(PQgetvalue(res, 0, b + 2), NULL, 10);
    acme_pg_copy(az->identifier_type, sizeof(az->identifier_type), res, 0,
                 b + 3);
    acme_pg_copy(az->identifier_value, sizeof(az->identifier_value), res, 0,
                 b + 4);
    az->wildcard = PQgetvalue(res, 0, b + 5)[0] == 't';
    acme_pg_copy(az->status, sizeof(az->status), res, 0, b + 6);
    az->expires = acme_pg_time(res, 0, b + 7);

    az->challs = calloc(n, sizeof(acme_chall_t));
    if (az->challs == NULL) {
        return ACME_ERROR;
    }

    for (i = 0; i < n; i++) {
        ch = &az->challs[i];
        ch->id = strtoll(PQgetvalue(res, i, b + 8), NULL, 10);
        acme_pg_copy(ch->public_id, sizeof(ch->public_id), res, i, b + 9);
        acme_pg_copy(ch->type, sizeof(ch->type), res, i, b + 10);
        acme_pg_copy(ch->token, sizeof(ch->token), res, i, b + 11);
        acme_pg_copy(ch->status, sizeof(ch->status), res, i, b + 12);
        ch->validated = acme_pg_time(res, i, b + 13);
        ch->error = acme_pg_strdup(res, i, b + 14);
        az->nchalls++;
    }

    return ACME_OK;
}


static int
acme_pg_authz_query(acme_pg_t *pg, const char *sql, const char *public_id,
    acme_authz_t *az)
{
    int          rc;
    PGresult    *res;
    const char  *params[1];

    memset(az, 0, sizeof(*az));
    params[0] = public_id;

    res = acme_pg_run(pg, sql, 1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = acme_pg_authz_rows(res, 0, az);
    PQclear(res);

    if (rc == ACME_ERROR) {
        acme_authz_clear(az);
    }

    return rc;
}


int
acme_pg_authz_get(acme_pg_t *pg, const char *public_id, acme_authz_t *az)
{
    return acme_pg_authz_query(pg, ACME_PG_AUTHZ_SELECT
                               "WHERE a.public_id = $1 ORDER BY c.id",
                               public_id, az);
}


int
acme_pg_chall_get(acme_pg_t *pg, const char *public_id, acme_authz_t *az)
{
    return acme_pg_authz_query(pg, ACME_PG_AUTHZ_SELECT
                               "WHERE c.public_id = $1", public_id, az);
}


void
acme_authz_clear(acme_authz_t *az)
{
    size_t  i;

    for (i = 0; i < az->nchalls; i++) {
        free(az->challs[i].error);
    }

    free(az->challs);
    memset(az, 0, sizeof(*az));
}


int
acme_pg_authz_deactivate(acme_pg_t *pg, int64_t authz_id)
{
    int          n;
    char         id[32];
    PGresult    *res;
    const char  *params[2];

    snprintf(id, sizeof(id), "%" PRId64, authz_id);
    params[0] = id;
    params[1] = "{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
                "\"detail\":\"an authorization was deactivated\","
                "\"status\":403}";

    /* one statement: the authorization, then (reading it) its orders, as
     * acme_pg_chall_result() locks them: the same lock order cannot
     * deadlock; nothing happens unless the authorization changed */
    res = acme_pg_run(pg,
              "WITH a AS (UPDATE authorizations SET status = 'deactivated' "
              "WHERE id = $1 AND status IN ('pending', 'valid') "
              "RETURNING id, public_id, account_id, identifier_type, "
              "identifier_value), "
              "o AS (UPDATE orders SET status = 'invalid', error = $2, "
              "updated_at = now() WHERE status IN ('pending', 'ready') "
              "AND id IN (SELECT oa.order_id FROM order_authorizations oa "
              "JOIN a ON a.id = oa.authorization_id)), "
              "e AS (INSERT INTO audit_events (ca, event, account, "
              "identifiers, detail) SELECT acc.ca, "
              "'authorization.deactivated', acc.public_id, "
              "json_build_array(json_build_object('type', "
              "a.identifier_type, 'value', a.identifier_value))::text, "
              "json_build_object('authorization', a.public_id)::text "
              "FROM a JOIN accounts acc ON acc.id = a.account_id) "
              "SELECT count(*) FROM a", 2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    return n ? ACME_OK : ACME_CONFLICT;
}


int
acme_pg_chall_start(acme_pg_t *pg, int64_t chall_id, time_t now,
    acme_authz_t *az)
{
    int          rc, started;
    char         id[32], t[32], pub[ACME_ID_LEN + 1];
    PGresult    *res;
    const char  *params[2];

    memset(az, 0, sizeof(*az));
    snprintf(id, sizeof(id), "%" PRId64, chall_id);
    snprintf(t, sizeof(t), "%lld", (long long) now);
    params[0] = id;
    params[1] = t;

    /* RFC 8555 7.5.1: pending -> processing while the authorization is
     * pending and unexpired; one statement, so it is atomic, and it
     * answers with the challenge as the change left it (the outer SELECT
     * sees the rows as before the change: u says what changed) */
    res = acme_pg_run(pg,
              "WITH u AS (UPDATE challenges c SET status = 'processing', "
              "updated_at = now(), attempts = attempts + 1 "
              "FROM authorizations a WHERE c.id = $1 "
              "AND c.status = 'pending' AND a.id = c.authorization_id "
              "AND a.status = 'pending' AND a.expires > to_timestamp($2) "
              "RETURNING c.id) "
              "SELECT a.id, a.public_id, a.account_id, a.identifier_type, "
              "a.identifier_value, a.wildcard, a.status, "
              "extract(epoch from a.expires)::bigint, "
              "c.id, c.public_id, c.type, c.token, "
              "CASE WHEN u.id IS NULL THEN c.status "
              "ELSE 'processing' END, "
              "extract(epoch from c.validated)::bigint, c.error, "
              "u.id IS NOT NULL "
              "FROM authorizations a "
              "JOIN challenges c ON c.authorization_id = a.id "
              "LEFT JOIN u ON u.id = c.id WHERE c.id = $1",
              2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = acme_pg_authz_rows(res, 0, az);
    started = rc == ACME_OK && PQgetvalue(res, 0, 15)[0] == 't';
    PQclear(res);

    if (rc != ACME_OK) {
        acme_authz_clear(az);
        return ACME_ERROR;
    }

    if (started) {
        return ACME_OK;
    }

    /* not started: it may have been changed meanwhile by another
     * request, which this statement's snapshot did not see */
    memcpy(pub, az->challs[0].public_id, sizeof(pub));
    acme_authz_clear(az);

    rc = acme_pg_chall_get(pg, pub, az);

    if (rc == ACME_NOT_FOUND) {
        snprintf(pg->err, sizeof(pg->err), "challenge %s vanished", pub);
    }

    return rc == ACME_OK ? ACME_CONFLICT : ACME_ERROR;
}


#define ACME_PG_JOB_COLS                                                     \
    "c.id, c.public_id, c.type, c.token, c.status, a.identifier_type, "     \
    "a.identifier_value, acc.jwk_thumbprint, a.id, a.wildcard, "            \
    "acc.public_id, acc.ca"


/* one acme_pg_job_t row of ACME_PG_JOB_COLS, looked up by key */
static int
acme_pg_job_query(acme_pg_t *pg, const char *sql, const char *key,
    acme_pg_job_t *job)
{
    PGresult    *res;
    const char  *params[1];

    memset(job, 0, sizeof(*job));
    params[0] = key;

    res = acme_pg_run(pg, sql, 1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return ACME_NOT_FOUND;
    }

    job->chall_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    acme_pg_copy(job->chall_public_id, sizeof(job->chall_public_id), res, 0,
                 1);
    acme_pg_copy(job->type, sizeof(job->type), res, 0, 2);
    acme_pg_copy(job->token, sizeof(job->token), res, 0, 3);
    acme_pg_copy(job->status, sizeof(job->status), res, 0, 4);
    acme_pg_copy(job->identifier_type, sizeof(job->identifier_type), res, 0,
                 5);
    acme_pg_copy(job->identifier_value, sizeof(job->identifier_value), res,
                 0, 6);
    acme_pg_copy(job->thumbprint, sizeof(job->thumbprint), res, 0, 7);
    job->authz_id = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    job->wildcard = PQgetvalue(res, 0, 9)[0] == 't';
    acme_pg_copy(job->account_id, sizeof(job->account_id), res, 0, 10);
    acme_pg_copy(job->ca, sizeof(job->ca), res, 0, 11);
    PQclear(res);

    return ACME_OK;
}


int
acme_pg_job_load(acme_pg_t *pg, const char *chall_public_id,
    acme_pg_job_t *job)
{
    return acme_pg_job_query(pg,
               "SELECT " ACME_PG_JOB_COLS " FROM challenges c "
               "JOIN authorizations a ON a.id = c.authorization_id "
               "JOIN accounts acc ON acc.id = a.account_id "
               "WHERE c.public_id = $1", chall_public_id, job);
}


/*
 * The result of a challenge, in one statement: the challenge (c: nothing
 * else happens unless it was processing), its authorization if pending
 * (a), the orders using it (o) and the audit event (e).  The authorization
 * is locked before the orders, as acme_pg_authz_deactivate() and
 * acme_pg_caa_result() do.  The pending count of an order is decremented
 * on its row: when two authorizations of one order pass at once, the
 * second waits for the first's row lock and then re-reads the row
 * (READ COMMITTED), so the order becomes ready exactly once.  An order
 * made before that count existed (NULL) counts its authorizations.
 */
#define ACME_PG_CHALL_RESULT_AUDIT(event)                                    \
    "e AS (INSERT INTO audit_events (ca, event, account, identifiers, "      \
    "detail) SELECT acc.ca, '" event "', acc.public_id, "                    \
    "json_build_array(json_build_object('type', az.identifier_type, "        \
    "'value', az.identifier_value))::text, json_build_object("               \
    "'challenge', c.public_id, 'type', c.type, 'authorization', "            \
    "az.public_id, 'wildcard', az.wildcard, 'error', $2::json, 'record', "   \
    "$3::json)::text FROM c JOIN authorizations az "                         \
    "ON az.id = c.authorization_id "                                         \
    "JOIN accounts acc ON acc.id = az.account_id) "                          \
    "SELECT count(*) FROM c"

#define ACME_PG_ORDER_PENDING                                                \
    "coalesce(o.authz_pending, (SELECT count(*) FROM "                       \
    ACME_PG_AUTHZ_OF("o.id") " a2 WHERE a2.status <> 'valid'))"

static const char  acme_pg_chall_valid_sql[] =
    "WITH c AS (UPDATE challenges SET status = 'valid', validated = now(), "
    "error = $2, validation_record = $3, updated_at = now() "
    "WHERE id = $1 AND status = 'processing' "
    "RETURNING id, public_id, type, authorization_id), "
    /* a passing check included CAA (when the validator checks it) */
    "a AS (UPDATE authorizations SET status = 'valid', "
    "caa_checked_at = now() WHERE id = $4 AND status = 'pending' "
    "AND EXISTS (SELECT 1 FROM c) RETURNING id), "
    /* RFC 8555 7.1.6: pending -> ready once every authorization of the
     * order is valid */
    "o AS (UPDATE orders o SET authz_pending = o.authz_pending - 1, "
    "status = CASE WHEN " ACME_PG_ORDER_PENDING " <= 1 THEN 'ready' "
    "ELSE o.status END, "
    "updated_at = CASE WHEN " ACME_PG_ORDER_PENDING " <= 1 THEN now() "
    "ELSE o.updated_at END "
    "FROM a JOIN order_authorizations oa ON oa.authorization_id = a.id "
    "WHERE o.id = oa.order_id AND o.status = 'pending'), "
    ACME_PG_CHALL_RESULT_AUDIT("challenge.valid");

static const char  acme_pg_chall_invalid_sql[] =
    "WITH c AS (UPDATE challenges SET status = 'invalid', "
    "validated = NULL, error = $2, validation_record = $3, "
    "updated_at = now() WHERE id = $1 AND status = 'processing' "
    "RETURNING id, public_id, type, authorization_id), "
    "a AS (UPDATE authorizations SET status = 'invalid', "
    "caa_checked_at = NULL WHERE id = $4 AND status = 'pending' "
    "AND EXISTS (SELECT 1 FROM c) RETURNING id), "
    /* RFC 8555 7.1.6: an order whose authorization fails is invalid; it
     * reads a, so that the authorization is locked first */
    "o AS (UPDATE orders SET status = 'invalid', error = $2, "
    "updated_at = now() WHERE status IN ('pending', 'ready') "
    "AND id IN (SELECT order_id FROM order_authorizations "
    "WHERE authorization_id = $4) AND EXISTS (SELECT 1 FROM c) "
    "AND (SELECT count(*) FROM a) >= 0), "
    ACME_PG_CHALL_RESULT_AUDIT("challenge.invalid");


int
acme_pg_chall_result(acme_pg_t *pg, const acme_pg_job_t *job,
    const char *error_json, const char *validation_record_json)
{
    int          n;
    char         cid[32], aid[32];
    PGresult    *res;
    const char  *params[4];

    snprintf(cid, sizeof(cid), "%" PRId64, job->chall_id);
    snprintf(aid, sizeof(aid), "%" PRId64, job->authz_id);

    params[0] = cid;
    params[1] = error_json;
    params[2] = validation_record_json;
    params[3] = aid;

    res = acme_pg_run(pg, error_json ? acme_pg_chall_invalid_sql
                                     : acme_pg_chall_valid_sql,
                      4, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    return n ? ACME_OK : ACME_CONFLICT;
}


int
acme_pg_chall_stale(acme_pg_t *pg, int older_than, size_t max, char ***ids,
    size_t *n)
{
    int          rows;
    char         age[32], lim[32];
    PGresult    *res;
    const char  *params[2];

    *ids = NULL;
    *n = 0;

    snprintf(age, sizeof(age), "%d", older_than);
    snprintf(lim, sizeof(lim), "%zu", max);
    params[0] = age;
    params[1] = lim;

    res = acme_pg_run(pg,
              "SELECT public_id FROM challenges WHERE status = 'processing' "
              "AND updated_at < now() - make_interval(secs => $1) "
              "ORDER BY updated_at LIMIT $2", 2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (acme_pg_strv(res, ids, n) != ACME_OK) {
        PQclear(res);
        return ACME_ERROR;
    }

    rows = (int) *n;

    /* touch them, so that a busy queue does not re-enqueue them again at
     * the next scan */
    if (rows > 0) {
        PQclear(res);
        res = acme_pg_run(pg,
                  "UPDATE challenges SET updated_at = now() "
                  "WHERE status = 'processing' "
                  "AND updated_at < now() - make_interval(secs => $1) "
                  "AND public_id IN (SELECT public_id FROM challenges "
                  "WHERE status = 'processing' ORDER BY updated_at "
                  "LIMIT $2)", 2, params, PGRES_COMMAND_OK);
    }

    PQclear(res);

    return ACME_OK;
}


/* ---------------------------------------------------------------- */
/* finalize and certificates */


int
acme_pg_finalize_begin(acme_pg_t *pg, int64_t order_id, int64_t account_id,
    const char *cert_public_id, const char *serial_hex)
{
    int          n;
    char         oid[32], acct[32];
    PGresult    *res;
    const char  *params[4];

    snprintf(oid, sizeof(oid), "%" PRId64, order_id);
    snprintf(acct, sizeof(acct), "%" PRId64, account_id);

    params[0] = oid;
    params[1] = cert_public_id;
    params[2] = serial_hex;
    params[3] = acct;

    /* RFC 8555 7.1.6: ready -> processing, once; the serial is reserved
     * before it is ever signed (DESIGN.md), in the same statement */
    res = acme_pg_run(pg,
              "WITH o AS (UPDATE orders o SET status = 'processing', "
              "updated_at = now() WHERE o.id = $1 AND o.status = 'ready' "
              "AND o.expires > now() AND NOT EXISTS (SELECT 1 FROM "
              ACME_PG_AUTHZ_OF("o.id") " a WHERE a.status <> 'valid' "
              "OR a.expires <= now()) "
              "RETURNING o.id), "
              "c AS (INSERT INTO certificates (public_id, serial, "
              "order_id, account_id) SELECT $2, $3, o.id, $4 FROM o "
              "RETURNING id) "
              "SELECT count(*) FROM c", 4, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    return n ? ACME_OK : ACME_CONFLICT;
}


/*
 * One statement: the order processing -> valid (o, which locks it first:
 * recovery, acme_pg_orders_recover(), changes the same row, and whichever
 * comes second sees the other's status), then the reserved certificate row
 * of that order gets its leaf (c, only when o changed), and the audit
 * event; it answers with the order as it is now.
 */
static const char  acme_pg_finalize_finish_sql[] =
    "WITH o AS (UPDATE orders o SET status = 'valid', "
    "certificate_id = r.id, updated_at = now() FROM certificates r "
    "WHERE o.id = $6 AND o.status = 'processing' AND r.public_id = $1 "
    "AND r.order_id = o.id AND r.der IS NULL RETURNING o.*), "
    "c AS (UPDATE certificates SET der = $2, chain = $3, "
    "not_before = to_timestamp($4), not_after = to_timestamp($5) "
    "WHERE public_id = $1 AND der IS NULL "
    "AND order_id IN (SELECT id FROM o) "
    "RETURNING id, public_id, serial, order_id, account_id), "
    "e AS (INSERT INTO audit_events (ca, event, account, order_id, "
    "serial, identifiers, detail) SELECT a.ca, 'certificate.issued', "
    "a.public_id, o.public_id, c.serial, o.identifiers, $7 "
    "FROM c JOIN o ON o.id = c.order_id "
    "JOIN accounts a ON a.id = c.account_id) "
    "SELECT " ACME_PG_ORDER_COLS("c.public_id", ACME_PG_ORDER_AUTHZ)
    " FROM o JOIN c ON c.order_id = o.id";


int
acme_pg_finalize_finish(acme_pg_t *pg, int64_t order_id,
    const char *cert_public_id, const unsigned char *der, size_t der_len,
    const char *chain_pem, time_t not_before, time_t not_after,
    const char *audit_detail, acme_order_t *o)
{
    int          rc, formats[7], lengths[7];
    char         oid[32], nb[32], na[32];
    PGresult    *res;
    const char  *params[7];

    memset(o, 0, sizeof(*o));
    snprintf(oid, sizeof(oid), "%" PRId64, order_id);
    snprintf(nb, sizeof(nb), "%lld", (long long) not_before);
    snprintf(na, sizeof(na), "%lld", (long long) not_after);

    params[0] = cert_public_id;
    params[1] = (const char *) der;
    params[2] = chain_pem;
    params[3] = nb;
    params[4] = na;
    params[5] = oid;
    params[6] = audit_detail ? audit_detail : "{}";
    memset(formats, 0, sizeof(formats));
    memset(lengths, 0, sizeof(lengths));
    formats[1] = 1;
    lengths[1] = (int) der_len;

    res = acme_pg_run_bin(pg, acme_pg_finalize_finish_sql, 7, params,
                          lengths, formats, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = acme_pg_order_row(res, 0, o);
    PQclear(res);

    if (rc == ACME_NOT_FOUND) {
        snprintf(pg->err, sizeof(pg->err), "order %s left processing",
                 oid);
        return ACME_ERROR;
    }

    return rc;
}


int
acme_pg_finalize_fail(acme_pg_t *pg, int64_t order_id, const char *error_json)
{
    char         oid[32];
    const char  *params[2];

    snprintf(oid, sizeof(oid), "%" PRId64, order_id);
    params[0] = oid;
    params[1] = error_json;

    return acme_pg_cmd(pg, "UPDATE orders SET status = 'invalid', "
                           "error = $2, updated_at = now() "
                           "WHERE id = $1 AND status = 'processing'",
                       2, params);
}


int
acme_pg_orders_recover(acme_pg_t *pg, int older_than, size_t *n)
{
    char         age[32];
    PGresult    *res;
    const char  *params[2];

    *n = 0;
    snprintf(age, sizeof(age), "%d", older_than);
    params[0] = age;
    params[1] = "{\"type\":\"urn:ietf:params:acme:error:serverInternal\","
                "\"detail\":\"issuance was interrupted; create a new "
                "order\",\"status\":500}";

    /* a certificate row with its der stored means finish() committed:
     * such an order is valid already and is not touched */
    res = acme_pg_run(pg,
              "WITH u AS (UPDATE orders o SET status = 'invalid', "
              "error = $2, updated_at = now() WHERE o.status = 'processing' "
              "AND o.updated_at < now() - make_interval(secs => $1) "
              "AND NOT EXISTS (SELECT 1 FROM certificates c "
              "WHERE c.order_id = o.id AND c.der IS NOT NULL) "
              "RETURNING o.id, o.public_id, o.account_id, o.identifiers), "
              "e AS (INSERT INTO audit_events (ca, event, account, "
              "order_id, serial, identifiers) SELECT a.ca, "
              "'order.recovered', a.public_id, u.public_id, (SELECT "
              "serial FROM certificates c WHERE c.order_id = u.id), "
              "u.identifiers FROM u JOIN accounts a "
              "ON a.id = u.account_id) "
              "SELECT id FROM u", 2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    *n = PQntuples(res);
    PQclear(res);

    return ACME_OK;
}


int
acme_pg_audit(acme_pg_t *pg, const char *ca, const char *event,
    const char *account, const char *detail_json)
{
    const char  *params[4];

    params[0] = ca;
    params[1] = event;
    params[2] = account;
    params[3] = detail_json ? detail_json : "{}";

    return acme_pg_cmd(pg, "INSERT INTO audit_events (ca, event, account, "
                           "detail) VALUES ($1, $2, $3, $4)", 4, params);
}


int
acme_pg_audit_query(acme_pg_t *pg, const char *account,
    const char *identifier, const char *serial, time_t since, time_t until,
    size_t max, acme_pg_audit_t **v, size_t *n)
{
    int              i, rows;
    char             sn[32], un[32], lim[32];
    PGresult        *res;
    const char      *params[6];
    acme_pg_audit_t *e;

    *v = NULL;
    *n = 0;

    snprintf(sn, sizeof(sn), "%lld", (long long) since);
    snprintf(un, sizeof(un), "%lld", (long long) until);
    snprintf(lim, sizeof(lim), "%zu", max);

    params[0] = account;
    params[1] = identifier;
    params[2] = serial;
    params[3] = sn;
    params[4] = un;
    params[5] = lim;

    res = acme_pg_run(pg,
              "SELECT id, extract(epoch from at)::bigint, ca, event, "
              "account, order_id, serial, identifiers, detail "
              "FROM audit_events WHERE ($1::text IS NULL OR account = $1) "
              "AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM "
              "json_array_elements(coalesce(identifiers, '[]')::json) x "
              "WHERE x->>'value' = $2)) "
              "AND ($3::text IS NULL OR serial = $3) "
              "AND ($4::bigint = 0 OR at >= to_timestamp($4::bigint)) "
              "AND ($5::bigint = 0 OR at <= to_timestamp($5::bigint)) "
              "ORDER BY id LIMIT $6", 6, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rows = PQntuples(res);

    if (rows > 0) {
        *v = calloc(rows, sizeof(acme_pg_audit_t));
        if (*v == NULL) {
            PQclear(res);
            return ACME_ERROR;
        }
    }

    for (i = 0; i < rows; i++) {
        e = &(*v)[i];
        e->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        e->at = acme_pg_time(res, i, 1);
        e->ca = acme_pg_strdup(res, i, 2);
        e->event = acme_pg_strdup(res, i, 3);
        e->account = acme_pg_strdup(res, i, 4);
        e->order_id = acme_pg_strdup(res, i, 5);
        e->serial = acme_pg_strdup(res, i, 6);
        e->identifiers = acme_pg_strdup(res, i, 7);
        e->detail = acme_pg_strdup(res, i, 8);
        (*n)++;
    }

    PQclear(res);

    return ACME_OK;
}


void
acme_pg_audit_free(acme_pg_audit_t *v, size_t n)
{
    size_t  i;

    for (i = 0; v && i < n; i++) {
        free(v[i].ca);
        free(v[i].event);
        free(v[i].account);
        free(v[i].order_id);
        free(v[i].serial);
        free(v[i].identifiers);
        free(v[i].detail);
    }

    free(v);
}


int
acme_pg_order_caa_stale(acme_pg_t *pg, int64_t order_id, int max_age,
    char ***ids, size_t *n)
{
    int          rc;
    char         oid[32], age[32];
    PGresult    *res;
    const char  *params[2];

    snprintf(oid, sizeof(oid), "%" PRId64, order_id);
    snprintf(age, sizeof(age), "%d", max_age);
    params[0] = oid;
    params[1] = age;

    res = acme_pg_run(pg,
              "SELECT a.public_id FROM " ACME_PG_AUTHZ_OF("$1") " a "
              "WHERE a.identifier_type = 'dns' "
              "AND coalesce(a.caa_checked_at, a.created_at) "
              "< now() - make_interval(secs => $2) ORDER BY a.id",
              2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        *ids = NULL;
        *n = 0;
        return ACME_ERROR;
    }

    rc = acme_pg_strv(res, ids, n);
    PQclear(res);

    return rc;
}


int
acme_pg_order_caa_state(acme_pg_t *pg, int64_t order_id, int max_age,
    long long *stale, long long *invalid)
{
    char         oid[32], age[32];
    PGresult    *res;
    const char  *params[2];

    snprintf(oid, sizeof(oid), "%" PRId64, order_id);
    snprintf(age, sizeof(age), "%d", max_age);
    params[0] = oid;
    params[1] = age;

    res = acme_pg_run(pg,
              "SELECT count(*) FILTER (WHERE a.identifier_type = 'dns' "
              "AND a.status = 'valid' AND coalesce(a.caa_checked_at, "
              "a.created_at) < now() - make_interval(secs => $2)), "
              "count(*) FILTER (WHERE a.status <> 'valid') "
              "FROM " ACME_PG_AUTHZ_OF("$1") " a",
              2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    *stale = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *invalid = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);

    return ACME_OK;
}


int
acme_pg_caa_job_load(acme_pg_t *pg, const char *authz_public_id,
    acme_pg_job_t *job)
{
    /* the authorization and the challenge that validated it (its type
     * matters to RFC 8657 validationmethods); status is the
     * authorization's */
    return acme_pg_job_query(pg,
               "SELECT c.id, c.public_id, c.type, c.token, a.status, "
               "a.identifier_type, a.identifier_value, acc.jwk_thumbprint, "
               "a.id, a.wildcard, acc.public_id, acc.ca "
               "FROM authorizations a "
               "JOIN challenges c ON c.authorization_id = a.id "
               "AND c.status = 'valid' "
               "JOIN accounts acc ON acc.id = a.account_id "
               "WHERE a.public_id = $1 LIMIT 1", authz_public_id, job);
}


int
acme_pg_caa_result(acme_pg_t *pg, const acme_pg_job_t *job,
    const char *error_json)
{
    char         aid[32];
    PGresult    *res;
    const char  *params[2];

    snprintf(aid, sizeof(aid), "%" PRId64, job->authz_id);
    params[0] = aid;
    params[1] = error_json;

    if (error_json == NULL) {
        return acme_pg_cmd(pg, "UPDATE authorizations "
                               "SET caa_checked_at = now() "
                               "WHERE id = $1 AND status = 'valid'",
                           1, params);
    }

    /* one statement: the authorization, then its pending or ready orders
     * (which read it, so that it is locked first, as
     * acme_pg_chall_result() does), and the audit event */
    res = acme_pg_run(pg,
              "WITH a AS (UPDATE authorizations SET status = 'invalid' "
              "WHERE id = $1 AND status = 'valid' RETURNING id), "
              "o AS (UPDATE orders SET status = 'invalid', error = $2, "
              "updated_at = now() WHERE status IN ('pending', 'ready') "
              "AND id IN (SELECT order_id FROM order_authorizations "
              "WHERE authorization_id = $1) "
              "AND (SELECT count(*) FROM a) >= 0), "
              "e AS (INSERT INTO audit_events (ca, event, account, "
              "identifiers, detail) SELECT acc.ca, "
              "'authorization.caa_refused', acc.public_id, "
              "json_build_array(json_build_object('type', "
              "az.identifier_type, 'value', az.identifier_value))::text, "
              "json_build_object('authorization', az.public_id, 'error', "
              "$2::json)::text FROM authorizations az JOIN accounts acc "
              "ON acc.id = az.account_id WHERE az.id = $1) "
              "SELECT 1", 2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    PQclear(res);

    return ACME_OK;
}


static unsigned char *
acme_pg_unhex(const char *s, size_t *len)
{
    size_t          i, n;
    unsigned int    b;
    unsigned char  *out;

    n = strlen(s) / 2;
    out = malloc(n ? n : 1);
    if (out == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (sscanf(s + 2 * i, "%2x", &b) != 1) {
            free(out);
            return NULL;
        }

        out[i] = (unsigned char) b;
    }

    *len = n;

    return out;
}


#define ACME_PG_CERT_COLS                                                    \
    "c.id, c.public_id, c.serial, c.order_id, c.account_id, "                \
    "encode(c.der, 'hex'), c.chain, "                                        \
    "extract(epoch from c.revoked_at)::bigint"


/* the certificate in row 0 of ACME_PG_CERT_COLS from column b: ACME_OK,
 * ACME_NOT_FOUND (no row, or a NULL id) or ACME_ERROR (out of memory) */
static int
acme_pg_cert_row(PGresult *res, int b, acme_cert_t *c)
{
    memset(c, 0, sizeof(*c));

    if (PQntuples(res) == 0 || PQgetisnull(res, 0, b)) {
        return ACME_NOT_FOUND;
    }

    c->id = strtoll(PQgetvalue(res, 0, b), NULL, 10);
    acme_pg_copy(c->public_id, sizeof(c->public_id), res, 0, b + 1);
    acme_pg_copy(c->serial, sizeof(c->serial), res, 0, b + 2);
    c->order_id = strtoll(PQgetvalue(res, 0, b + 3), NULL, 10);
    c->account_id = strtoll(PQgetvalue(res, 0, b + 4), NULL, 10);

    if (!PQgetisnull(res, 0, b + 5)) {
        c->der = acme_pg_unhex(PQgetvalue(res, 0, b + 5), &c->der_len);
        if (c->der == NULL) {
            return ACME_ERROR;
        }
    }

    c->chain = acme_pg_strdup(res, 0, b + 6);
    c->revoked_at = acme_pg_time(res, 0, b + 7);

    return ACME_OK;
}


static int
acme_pg_cert_query(acme_pg_t *pg, const char *sql, int n,
    const char *const *params, acme_cert_t *c)
{
    int        rc;
    PGresult  *res;

    memset(c, 0, sizeof(*c));

    res = acme_pg_run(pg, sql, n, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = acme_pg_cert_row(res, 0, c);
    PQclear(res);

    return rc;
}


int
acme_pg_cert_get(acme_pg_t *pg, const char *public_id, acme_cert_t *c)
{
    const char  *params[1];

    params[0] = public_id;

    return acme_pg_cert_query(pg, "SELECT " ACME_PG_CERT_COLS
                              " FROM certificates c WHERE c.public_id = $1",
                              1, params, c);
}


int
acme_pg_cert_by_serial(acme_pg_t *pg, const char *ca, const char *serial_hex,
    acme_cert_t *c)
{
    const char  *params[2];

    params[0] = serial_hex;
    params[1] = ca;

    return acme_pg_cert_query(pg, "SELECT " ACME_PG_CERT_COLS
                              " FROM certificates c JOIN accounts a "
                              "ON a.id = c.account_id "
                              "WHERE c.serial = $1 AND a.ca = $2",
                              2, params, c);
}


int
acme_pg_cert_revoke(acme_pg_t *pg, int64_t cert_id, int reason,
    const char *by)
{
    int          n;
    char         id[32], r[16];
    PGresult    *res;
    const char  *params[3];

    snprintf(id, sizeof(id), "%" PRId64, cert_id);
    snprintf(r, sizeof(r), "%d", reason);
    params[0] = id;
    params[1] = r;

    params[2] = by;

    res = acme_pg_run(pg,
              "WITH u AS (UPDATE certificates SET revoked_at = now(), "
              "revocation_reason = $2 WHERE id = $1 AND revoked_at IS NULL "
              "AND der IS NOT NULL RETURNING id, serial, order_id, "
              "account_id), "
              "e AS (INSERT INTO audit_events (ca, event, account, "
              "order_id, serial, identifiers, detail) SELECT a.ca, "
              "'certificate.revoked', a.public_id, o.public_id, u.serial, "
              "o.identifiers, json_build_object('reason', $2::int, 'by', "
              "$3::text)::text FROM u JOIN orders o ON o.id = u.order_id "
              "JOIN accounts a ON a.id = u.account_id) "
              "SELECT id FROM u", 3, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    n = PQntuples(res);
    PQclear(res);

    return n ? ACME_OK : ACME_CONFLICT;
}


int
acme_pg_account_authorized(acme_pg_t *pg, int64_t account_id,
    const char *const *types, const char *const *values, size_t n)
{
    int          ok;
    char         acct[32], *tv, *vv, *p;
    size_t       i, tl, vl;
    PGresult    *res;
    const char  *params[3];

    /* the pairs go as two text arrays; values are normalized identifiers
     * (no quotes, commas or braces), types "dns" or "ip" */
    tl = 3;
    vl = 3;

    for (i = 0; i < n; i++) {
        tl += strlen(types[i]) + 3;
        vl += strlen(values[i]) + 3;
    }

    tv = malloc(tl);
    vv = malloc(vl);
    if (tv == NULL || vv == NULL) {
        free(tv);
        free(vv);
        return ACME_ERROR;
    }

    p = tv;
    *p++ = '{';
    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s\"%s\"", i ? "," : "", types[i]);
    }
    strcpy(p, "}");

    p = vv;
    *p++ = '{';
    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s\"%s\"", i ? "," : "", values[i]);
    }
    strcpy(p, "}");

    snprintf(acct, sizeof(acct), "%" PRId64, account_id);
    params[0] = acct;
    params[1] = tv;
    params[2] = vv;

    res = acme_pg_run(pg,
              "SELECT count(*) = (SELECT count(DISTINCT (t, v)) FROM "
              "unnest($2::text[], $3::text[]) AS x(t, v)) FROM ("
              "SELECT DISTINCT x.t, x.v FROM unnest($2::text[], $3::text[]) "
              "AS x(t, v) JOIN authorizations a ON a.account_id = $1 "
              "AND a.identifier_type = x.t AND a.identifier_value = x.v "
              "AND a.status = 'valid' AND a.expires > now()) y",
              3, params, PGRES_TUPLES_OK);
    free(tv);
    free(vv);

    if (res == NULL) {
        return ACME_ERROR;
    }

    ok = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    return ok;
}


int
acme_pg_account_rekey(acme_pg_t *pg, int64_t id, const char *old_thumbprint,
    const char *new_thumbprint, const char *new_jwk)
{
    int          n;
    char         acct[32];
    PGresult    *res;
    const char  *params[4];

    snprintf(acct, sizeof(acct), "%" PRId64, id);
    params[0] = acct;
    params[1] = old_thumbprint;
    params[2] = new_thumbprint;
    params[3] = new_jwk;

    /* ON CONFLICT cannot guard an UPDATE: the NOT EXISTS check plus the
     * unique index; a unique violation in a race is reported as error */
    res = acme_pg_run(pg,
              "WITH u AS (UPDATE accounts a SET jwk_thumbprint = $3, "
              "jwk = $4 WHERE a.id = $1 AND a.jwk_thumbprint = $2 "
              "AND a.status = 'valid' AND NOT EXISTS (SELECT 1 FROM "
              "accounts b WHERE b.ca = a.ca AND b.jwk_thumbprint = $3) "
              "RETURNING a.id, a.ca, a.public_id), "
              "e AS (INSERT INTO audit_events (ca, event, account, detail) "
              "SELECT u.ca, 'account.key_rolled', u.public_id, "
              "json_build_object('old_key_thumbprint', $2::text, "
              "'new_key_thumbprint', $3::text)::text FROM u) "
              "SELECT id FROM u", 4, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    n = PQntuples(res);
    PQclear(res);

    return n ? ACME_OK : ACME_CONFLICT;
}


/*
 * The statements of acme_pg_account_with(), by kind: the account row
 * (ACME_PG_ACCOUNT_NCOLS columns) joined with the resource's, whose
 * columns are NULL when it does not exist.
 */
static const char  *acme_pg_account_with_sql[] = {
    /* ACME_PG_RES_ORDER */
    "SELECT " ACME_PG_ACCOUNT_ACC_COLS ", "
    ACME_PG_ORDER_COLS("coalesce(c.public_id, '')", ACME_PG_ORDER_AUTHZ)
    ", (SELECT coalesce(extract(epoch from now() "
    "- min(coalesce(x.caa_checked_at, x.created_at)))::bigint, 0) "
    "FROM " ACME_PG_ORDER_AUTHZ " WHERE x.identifier_type = 'dns') "
    " FROM accounts acc LEFT JOIN orders o ON o.public_id = $3 "
    "LEFT JOIN certificates c ON c.id = o.certificate_id "
    "WHERE acc.ca = $1 AND acc.public_id = $2",

    /* ACME_PG_RES_AUTHZ */
    "SELECT " ACME_PG_ACCOUNT_ACC_COLS ", " ACME_PG_AUTHZ_COLS
    " FROM accounts acc LEFT JOIN (authorizations a JOIN challenges c "
    "ON c.authorization_id = a.id) ON a.public_id = $3 "
    "WHERE acc.ca = $1 AND acc.public_id = $2 ORDER BY c.id",

    /* ACME_PG_RES_CHALL */
    "SELECT " ACME_PG_ACCOUNT_ACC_COLS ", " ACME_PG_AUTHZ_COLS
    " FROM accounts acc LEFT JOIN (authorizations a JOIN challenges c "
    "ON c.authorization_id = a.id) ON c.public_id = $3 "
    "WHERE acc.ca = $1 AND acc.public_id = $2",

    /* ACME_PG_RES_CERT */
    "SELECT " ACME_PG_ACCOUNT_ACC_COLS ", " ACME_PG_CERT_COLS
    " FROM accounts acc LEFT JOIN certificates c ON c.public_id = $3 "
    "WHERE acc.ca = $1 AND acc.public_id = $2"
};


int
acme_pg_account_with(acme_pg_t *pg, const char *ca, const char *public_id,
    acme_pg_res_e kind, const char *res_public_id, acme_account_t *a,
    acme_pg_res_t *r)
{
    int          rc, b;
    PGresult    *res;
    const char  *params[3];

    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->rc = ACME_NOT_FOUND;

    if (kind == ACME_PG_RES_NONE) {
        return acme_pg_account_by_public_id(pg, ca, public_id, a);
    }

    params[0] = ca;
    params[1] = public_id;
    params[2] = res_public_id;

    res = acme_pg_run(pg, acme_pg_account_with_sql[kind - 1], 3, params,
                      PGRES_TUPLES_OK);
    if (res == NULL) {
        memset(a, 0, sizeof(*a));
        return ACME_ERROR;
    }

    rc = acme_pg_account_row(res, a);
    b = ACME_PG_ACCOUNT_NCOLS;

    if (rc == ACME_OK) {
        switch (kind) {

        case ACME_PG_RES_ORDER:
            r->rc = acme_pg_order_row(res, b, &r->order);

            if (r->rc == ACME_OK) {
                r->order.caa_age = strtoll(PQgetvalue(res, 0,
                                                      b + ACME_PG_ORDER_NCOLS),
                                           NULL, 10);
            }

            break;

        case ACME_PG_RES_AUTHZ:
        case ACME_PG_RES_CHALL:
            r->rc = acme_pg_authz_rows(res, b, &r->authz);

            if (r->rc == ACME_ERROR) {
                acme_authz_clear(&r->authz);
            }

            break;

        default:
            r->rc = acme_pg_cert_row(res, b, &r->cert);

            if (r->rc == ACME_ERROR) {
                acme_cert_clear(&r->cert);
            }

            break;
        }

        if (r->rc == ACME_ERROR) {
            snprintf(pg->err, sizeof(pg->err), "out of memory");
        }
    }

    PQclear(res);

    return rc;
}


void
acme_pg_res_clear(acme_pg_res_t *r)
{
    acme_order_clear(&r->order);
    acme_authz_clear(&r->authz);
    acme_cert_clear(&r->cert);
    memset(r, 0, sizeof(*r));
}


void
acme_cert_clear(acme_cert_t *c)
{
    free(c->der);
    free(c->chain);
    memset(c, 0, sizeof(*c));
}


/* ---------------------------------------------------------------- */
/* admin: acme-server-admin and External Account Binding keys */


static int
acme_pg_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


int
acme_pg_eab_create(acme_pg_t *pg, const char *ca, const char *kid,
    const unsigned char *key, size_t key_len, const char *note)
{
    int          rc;
    char         hex[2 + 2 * ACME_PG_EAB_KEY_MAX + 1];
    size_t       i;
    PGresult    *res;
    const char  *params[4];

    if (key_len == 0 || key_len > ACME_PG_EAB_KEY_MAX
        || strlen(kid) > ACME_PG_EAB_KID_MAX)
    {
        snprintf(pg->err, sizeof(pg->err), "bad EAB key or kid length");
        return ACME_ERROR;
    }

    /* bytea in text format: "\x" and hex digits */
    hex[0] = '\\';
    hex[1] = 'x';

    for (i = 0; i < key_len; i++) {
        snprintf(hex + 2 + 2 * i, 3, "%02x", key[i]);
    }

    params[0] = kid;
    params[1] = ca;
    params[2] = hex;
    params[3] = note;

    res = acme_pg_run(pg,
              "INSERT INTO eab_keys (kid, ca, hmac_key, note) "
              "VALUES ($1, $2, $3::bytea, $4) "
              "ON CONFLICT (kid) DO NOTHING RETURNING id",
              4, params, PGRES_TUPLES_OK);

    explicit_bzero(hex, sizeof(hex));

    if (res == NULL) {
        return ACME_ERROR;
    }

    rc = PQntuples(res) ? ACME_OK : ACME_CONFLICT;
    PQclear(res);

    return rc;
}


#define ACME_PG_EAB_COLS                                                     \
    "e.id, e.kid, e.ca, e.note, extract(epoch from e.created_at)::bigint, " \
    "extract(epoch from e.revoked_at)::bigint, "                             \
    "extract(epoch from e.bound_at)::bigint, a.public_id"


int
acme_pg_eab_list(acme_pg_t *pg, const char *ca, acme_pg_eab_t **v,
    size_t *n)
{
    int             i, rows;
    PGresult       *res;
    const char     *params[1];
    acme_pg_eab_t  *e;

    *v = NULL;
    *n = 0;
    params[0] = ca;

    res = acme_pg_run(pg,
              "SELECT " ACME_PG_EAB_COLS " FROM eab_keys e "
              "LEFT JOIN accounts a ON a.id = e.account_id "
              "WHERE $1::text IS NULL OR e.ca = $1 ORDER BY e.id",
              1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rows = PQntuples(res);

    if (rows == 0) {
        PQclear(res);
        return ACME_OK;
    }

    e = calloc(rows, sizeof(acme_pg_eab_t));
    if (e == NULL) {
        PQclear(res);
        snprintf(pg->err, sizeof(pg->err), "out of memory");
        return ACME_ERROR;
    }

    for (i = 0; i < rows; i++) {
        e[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        acme_pg_copy(e[i].kid, sizeof(e[i].kid), res, i, 1);
        acme_pg_copy(e[i].ca, sizeof(e[i].ca), res, i, 2);
        e[i].created_at = acme_pg_time(res, i, 4);
        e[i].revoked_at = acme_pg_time(res, i, 5);
        e[i].bound_at = acme_pg_time(res, i, 6);
        acme_pg_copy(e[i].account, sizeof(e[i].account), res, i, 7);

        if (!PQgetisnull(res, i, 3)) {
            e[i].note = acme_pg_strdup(res, i, 3);
            if (e[i].note == NULL) {
                acme_pg_eab_list_free(e, i);
                PQclear(res);
                snprintf(pg->err, sizeof(pg->err), "out of memory");
                return ACME_ERROR;
            }
        }
    }

    PQclear(res);

    *v = e;
    *n = rows;

    return ACME_OK;
}


void
acme_pg_eab_list_free(acme_pg_eab_t *v, size_t n)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        free(v[i].note);
    }

    free(v);
}


int
acme_pg_eab_revoke(acme_pg_t *pg, const char *kid)
{
    int          rc;
    PGresult    *res;
    const char  *params[1];

    params[0] = kid;

    /* conditional: revoked once; the row tells which case applied */
    res = acme_pg_run(pg,
              "WITH u AS (UPDATE eab_keys SET revoked_at = now() "
              "WHERE kid = $1 AND revoked_at IS NULL RETURNING id) "
              "SELECT (SELECT count(*) FROM u), "
              "(SELECT count(*) FROM eab_keys WHERE kid = $1)",
              1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        rc = ACME_OK;

    } else if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        rc = ACME_NOT_FOUND;

    } else {
        rc = ACME_CONFLICT;
    }

    PQclear(res);

    return rc;
}


int
acme_pg_eab_get(acme_pg_t *pg, const char *ca, const char *kid,
    unsigned char *key, size_t *key_len, int64_t *account_id, int *revoked)
{
    int          hi, lo;
    char        *hex;
    size_t       i, n, cap;
    PGresult    *res;
    const char  *params[2];

    cap = *key_len;
    *key_len = 0;

    if (account_id) {
        *account_id = 0;
    }

    if (revoked) {
        *revoked = 0;
    }

    params[0] = kid;
    params[1] = ca;

    res = acme_pg_run(pg,
              "SELECT encode(hmac_key, 'hex'), coalesce(account_id, 0), "
              "revoked_at IS NOT NULL FROM eab_keys "
              "WHERE kid = $1 AND ca = $2", 2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return ACME_NOT_FOUND;
    }

    hex = PQgetvalue(res, 0, 0);
    n = strlen(hex) / 2;

    if (n > cap) {
        explicit_bzero(hex, strlen(hex));
        PQclear(res);
        snprintf(pg->err, sizeof(pg->err), "EAB key of %zu bytes does not "
                 "fit in %zu", n, cap);
        return ACME_ERROR;
    }

    for (i = 0; i < n; i++) {
        hi = acme_pg_hexval(hex[2 * i]);
        lo = acme_pg_hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            explicit_bzero(key, cap);
            explicit_bzero(hex, strlen(hex));
            PQclear(res);
            snprintf(pg->err, sizeof(pg->err), "bad EAB key encoding");
            return ACME_ERROR;
        }

        key[i] = (unsigned char) (hi << 4 | lo);
    }

    /* the key must not linger in libpq's freed memory */
    explicit_bzero(hex, strlen(hex));

    *key_len = n;

    if (account_id) {
        *account_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }

    if (revoked) {
        *revoked = PQgetvalue(res, 0, 2)[0] == 't';
    }

    PQclear(res);

    return ACME_OK;
}


int
acme_pg_eab_bind(acme_pg_t *pg, const char *kid, int64_t account_id)
{
    int          rc;
    char         acct[32];
    PGresult    *res;
    const char  *params[2];

    snprintf(acct, sizeof(acct), "%" PRId64, account_id);
    params[0] = kid;
    params[1] = acct;

    /* RFC 8555 7.3.4: one key, one account; the UPDATE is the only
     * state change, the other columns only tell why it did not apply */
    res = acme_pg_run(pg,
              "WITH u AS (UPDATE eab_keys e SET account_id = $2, "
              "bound_at = now() WHERE e.kid = $1 AND e.account_id IS NULL "
              "AND e.revoked_at IS NULL AND EXISTS (SELECT 1 FROM accounts "
              "a WHERE a.id = $2 AND a.ca = e.ca) RETURNING e.id, e.kid, "
              "e.ca), "
              "ev AS (INSERT INTO audit_events (ca, event, account, detail) "
              "SELECT u.ca, 'eab.bound', a.public_id, json_build_object("
              "'eab_kid', u.kid)::text FROM u JOIN accounts a "
              "ON a.id = $2) "
              "SELECT (SELECT count(*) FROM u), "
              "(SELECT count(*) FROM eab_keys WHERE kid = $1), "
              "(SELECT count(*) FROM eab_keys WHERE kid = $1 "
              "AND account_id = $2 AND revoked_at IS NULL)",
              2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0
        || strcmp(PQgetvalue(res, 0, 2), "0") != 0)
    {
        rc = ACME_OK;

    } else if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        rc = ACME_NOT_FOUND;

    } else {
        rc = ACME_CONFLICT;
    }

    PQclear(res);

    return rc;
}


int
acme_pg_admin_account_get(acme_pg_t *pg, const char *public_id,
    acme_pg_admin_account_t *a)
{
    PGresult    *res;
    const char  *params[1];

    memset(a, 0, sizeof(*a));
    params[0] = public_id;

    res = acme_pg_run(pg,
              "SELECT a.id, a.public_id, a.ca, a.status, a.jwk_thumbprint, "
              "a.contact, extract(epoch from a.created_at)::bigint, "
              "(SELECT count(*) FROM orders o WHERE o.account_id = a.id), "
              "(SELECT count(*) FROM certificates c "
              "WHERE c.account_id = a.id AND c.der IS NOT NULL), "
              "(SELECT count(*) FROM certificates c "
              "WHERE c.account_id = a.id AND c.revoked_at IS NOT NULL), "
              "(SELECT e.kid FROM eab_keys e WHERE e.account_id = a.id "
              "ORDER BY e.id LIMIT 1) "
              "FROM accounts a WHERE a.public_id = $1",
              1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return ACME_NOT_FOUND;
    }

    a->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    acme_pg_copy(a->public_id, sizeof(a->public_id), res, 0, 1);
    acme_pg_copy(a->ca, sizeof(a->ca), res, 0, 2);
    acme_pg_copy(a->status, sizeof(a->status), res, 0, 3);
    acme_pg_copy(a->thumbprint, sizeof(a->thumbprint), res, 0, 4);
    a->contact = acme_pg_strdup(res, 0, 5);
    a->created_at = acme_pg_time(res, 0, 6);
    a->orders = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
    a->certs = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    a->certs_revoked = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    acme_pg_copy(a->eab_kid, sizeof(a->eab_kid), res, 0, 10);
    PQclear(res);

    if (a->contact == NULL) {
        snprintf(pg->err, sizeof(pg->err), "out of memory");
        return ACME_ERROR;
    }

    return ACME_OK;
}


void
acme_pg_admin_account_clear(acme_pg_admin_account_t *a)
{
    free(a->contact);
    memset(a, 0, sizeof(*a));
}


#define ACME_PG_ADMIN_CERT_SQL                                               \
    "SELECT c.id, c.public_id, c.serial, a.ca, a.public_id, o.public_id, "  \
    "o.identifiers, encode(c.der, 'hex'), "                                  \
    "extract(epoch from c.created_at)::bigint, "                             \
    "extract(epoch from c.not_before)::bigint, "                             \
    "extract(epoch from c.not_after)::bigint, "                              \
    "extract(epoch from c.revoked_at)::bigint, "                             \
    "coalesce(c.revocation_reason, -1) "                                     \
    "FROM certificates c JOIN accounts a ON a.id = c.account_id "            \
    "JOIN orders o ON o.id = c.order_id "


static int
acme_pg_admin_cert_row(acme_pg_t *pg, PGresult *res, int row,
    acme_pg_admin_cert_t *c)
{
    memset(c, 0, sizeof(*c));

    c->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    acme_pg_copy(c->public_id, sizeof(c->public_id), res, row, 1);
    acme_pg_copy(c->serial, sizeof(c->serial), res, row, 2);
    acme_pg_copy(c->ca, sizeof(c->ca), res, row, 3);
    acme_pg_copy(c->account, sizeof(c->account), res, row, 4);
    acme_pg_copy(c->order, sizeof(c->order), res, row, 5);
    c->identifiers = acme_pg_strdup(res, row, 6);
    c->created_at = acme_pg_time(res, row, 8);
    c->not_before = acme_pg_time(res, row, 9);
    c->not_after = acme_pg_time(res, row, 10);
    c->revoked_at = acme_pg_time(res, row, 11);
    c->reason = (int) strtol(PQgetvalue(res, row, 12), NULL, 10);

    if (c->identifiers == NULL) {
        snprintf(pg->err, sizeof(pg->err), "out of memory");
        return ACME_ERROR;
    }

    if (!PQgetisnull(res, row, 7)) {
        c->der = acme_pg_unhex(PQgetvalue(res, row, 7), &c->der_len);
        if (c->der == NULL) {
            snprintf(pg->err, sizeof(pg->err), "out of memory");
            return ACME_ERROR;
        }
    }

    return ACME_OK;
}


int
acme_pg_admin_cert_get(acme_pg_t *pg, const char *serial_hex,
    acme_pg_admin_cert_t *c)
{
    int          rc;
    PGresult    *res;
    const char  *params[1];

    memset(c, 0, sizeof(*c));
    params[0] = serial_hex;

    res = acme_pg_run(pg, ACME_PG_ADMIN_CERT_SQL "WHERE c.serial = $1",
                      1, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return ACME_NOT_FOUND;
    }

    rc = acme_pg_admin_cert_row(pg, res, 0, c);
    PQclear(res);

    if (rc != ACME_OK) {
        acme_pg_admin_cert_clear(c);
    }

    return rc;
}


void
acme_pg_admin_cert_clear(acme_pg_admin_cert_t *c)
{
    free(c->identifiers);
    free(c->der);
    memset(c, 0, sizeof(*c));
}


int
acme_pg_admin_expiring(acme_pg_t *pg, int64_t within, size_t max,
    acme_pg_admin_cert_t **v, size_t *n)
{
    int                    i, rows;
    char                   secs[32], lim[32];
    PGresult              *res;
    const char            *params[2];
    acme_pg_admin_cert_t  *c;

    *v = NULL;
    *n = 0;

    snprintf(secs, sizeof(secs), "%" PRId64, within);
    snprintf(lim, sizeof(lim), "%zu", max);
    params[0] = secs;
    params[1] = lim;

    res = acme_pg_run(pg, ACME_PG_ADMIN_CERT_SQL
                      "WHERE c.der IS NOT NULL AND c.revoked_at IS NULL "
                      "AND c.not_after > now() AND c.not_after <= now() "
                      "+ make_interval(secs => $1::bigint) "
                      "ORDER BY c.not_after, c.id LIMIT $2",
                      2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rows = PQntuples(res);

    if (rows == 0) {
        PQclear(res);
        return ACME_OK;
    }

    c = calloc(rows, sizeof(acme_pg_admin_cert_t));
    if (c == NULL) {
        PQclear(res);
        snprintf(pg->err, sizeof(pg->err), "out of memory");
        return ACME_ERROR;
    }

    for (i = 0; i < rows; i++) {
        if (acme_pg_admin_cert_row(pg, res, i, &c[i]) != ACME_OK) {
            acme_pg_admin_certs_free(c, i + 1);
            PQclear(res);
            return ACME_ERROR;
        }
    }

    PQclear(res);

    *v = c;
    *n = rows;

    return ACME_OK;
}


void
acme_pg_admin_certs_free(acme_pg_admin_cert_t *v, size_t n)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        acme_pg_admin_cert_clear(&v[i]);
    }

    free(v);
}


int
acme_pg_admin_orders(acme_pg_t *pg, const char *status, size_t max,
    acme_pg_admin_order_t **v, size_t *n)
{
    int                     i, rows;
    char                    lim[32];
    PGresult               *res;
    const char             *params[2];
    acme_pg_admin_order_t  *o;

    *v = NULL;
    *n = 0;

    snprintf(lim, sizeof(lim), "%zu", max);
    params[0] = status;
    params[1] = lim;

    res = acme_pg_run(pg,
              "SELECT o.public_id, a.public_id, a.ca, o.status, "
              "o.identifiers, extract(epoch from o.created_at)::bigint, "
              "extract(epoch from o.updated_at)::bigint, "
              "extract(epoch from o.expires)::bigint "
              "FROM orders o JOIN accounts a ON a.id = o.account_id "
              "WHERE o.status = $1 ORDER BY o.updated_at, o.id LIMIT $2",
              2, params, PGRES_TUPLES_OK);
    if (res == NULL) {
        return ACME_ERROR;
    }

    rows = PQntuples(res);

    if (rows == 0) {
        PQclear(res);
        return ACME_OK;
    }

    o = calloc(rows, sizeof(acme_pg_admin_order_t));
    if (o == NULL) {
        PQclear(res);
        snprintf(pg->err, sizeof(pg->err), "out of memory");
        return ACME_ERROR;
    }

    for (i = 0; i < rows; i++) {
        acme_pg_copy(o[i].public_id, sizeof(o[i].public_id), res, i, 0);
        acme_pg_copy(o[i].account, sizeof(o[i].account), res, i, 1);
        acme_pg_copy(o[i].ca, sizeof(o[i].ca), res, i, 2);
        acme_pg_copy(o[i].status, sizeof(o[i].status), res, i, 3);
        o[i].identifiers = acme_pg_strdup(res, i, 4);
        o[i].created_at = acme_pg_time(res, i, 5);
        o[i].updated_at = acme_pg_time(res, i, 6);
        o[i].expires = acme_pg_time(res, i, 7);

        if (o[i].identifiers == NULL) {
            acme_pg_admin_orders_free(o, i);
            PQclear(res);
            snprintf(pg->err, sizeof(pg->err), "out of memory");
            return ACME_ERROR;
        }
    }

    PQclear(res);

    *v = o;
    *n = rows;

    return ACME_OK;
}


void
acme_pg_admin_orders_free(acme_pg_admin_order_t *v, size_t n)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        free(v[i].identifiers);
    }

    free(v);
}
