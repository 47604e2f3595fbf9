/*
 * Copyright (C) nginx-acme-server authors
 *
 * Redis storage: every hiredis call of the project.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <hiredis.h>
#include "acme_store_redis.h"


#define ACME_REDIS_ERR_MAX  256

/* hiredis 0.14's format parser knows no "z" modifier: sizes go as %lu */


struct acme_redis_s {
    redisContext  *ctx;
    char          *host;
    int            port;
    int            timeout_ms;
    int            outage;
    char           err[ACME_REDIS_ERR_MAX];
};


/*
 * GCRA over several buckets (KEYS), all or nothing.  ARGV[1] now in ms,
 * then per bucket its emission interval T and burst B.  A bucket's value
 * is its theoretical arrival time (TAT); one more request is allowed when
 * max(TAT, now) + T - now <= T * B.  Returns {0, 0} or {index, retry_ms}.
 */
static const char  acme_redis_gcra_lua[] =
    "local now = tonumber(ARGV[1]) local tats = {} "
    "for i = 1, #KEYS do "
    "  local t = tonumber(ARGV[2 * i]) local b = tonumber(ARGV[2 * i + 1]) "
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or now) "
    "  if tat < now then tat = now end "
    "  local new = tat + t "
    "  if new - now > t * b then return {i, new - now - t * b} end "
    "  tats[i] = new "
    "end "
    "for i = 1, #KEYS do "
    "  redis.call('SET', KEYS[i], tats[i], 'PX', tats[i] - now + 1000) "
    "end "
    "return {0, 0}";


static struct timeval
acme_redis_tv(int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    return tv;
}


acme_redis_t *
acme_redis_open(const char *host, int port, int timeout_ms)
{
    acme_redis_t  *rd;

    rd = calloc(1, sizeof(acme_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->host = strdup(host);
    if (rd->host == NULL) {
        free(rd);
        return NULL;
    }

    rd->port = port;
    rd->timeout_ms = timeout_ms;

    return rd;
}


void
acme_redis_close(acme_redis_t *rd)
{
    if (rd == NULL) {
        return;
    }

    if (rd->ctx) {
        redisFree(rd->ctx);
    }

    free(rd->host);
    free(rd);
}


const char *
acme_redis_errmsg(acme_redis_t *rd)
{
    return rd->err;
}


int
acme_redis_outage(acme_redis_t *rd)
{
    return rd->outage;
}


static int
acme_redis_ensure(acme_redis_t *rd)
{
    struct timeval  tv;

    rd->outage = 0;

    if (rd->ctx && rd->ctx->err == 0) {
        return ACME_OK;
    }

    if (rd->ctx) {
        redisFree(rd->ctx);
        rd->ctx = NULL;
    }

    tv = acme_redis_tv(rd->timeout_ms);

    if (rd->host[0] == '/') {
        rd->ctx = redisConnectUnixWithTimeout(rd->host, tv);

    } else {
        rd->ctx = redisConnectWithTimeout(rd->host, rd->port, tv);
    }

    if (rd->ctx == NULL || rd->ctx->err) {
        rd->outage = 1;
        snprintf(rd->err, sizeof(rd->err), "connect to %s:%d: %s", rd->host,
                 rd->port, rd->ctx ? rd->ctx->errstr : "out of memory");
        if (rd->ctx) {
            redisFree(rd->ctx);
            rd->ctx = NULL;
        }

        return ACME_ERROR;
    }

    if (redisSetTimeout(rd->ctx, tv) != REDIS_OK) {
        snprintf(rd->err, sizeof(rd->err), "set timeout: %s",
                 rd->ctx->errstr);
        return ACME_ERROR;
    }

    return ACME_OK;
}


/*
 * One round trip: the formatted commands cmds[0..n-1] (n > 1: a pipeline)
 * are sent, and sent again once on a new connection when the old one turns
 * out to be dead (Redis restarted while it sat idle in a pool thread).
 * Returns the first reply, the caller reads the others with
 * acme_redis_next(); NULL when there is none (check it with
 * acme_redis_check(), which drops a broken connection).
 */
static redisReply *
acme_redis_roundtrip(acme_redis_t *rd, char *const *cmds, const int *lens,
    int n)
{
    int          i, tries;
    redisReply  *r;

    for (tries = 0; tries < 2; tries++) {
        if (acme_redis_ensure(rd) != ACME_OK) {
            return NULL;
        }

        for (i = 0; i < n; i++) {
            if (redisAppendFormattedCommand(rd->ctx, cmds[i], (size_t) lens[i])
                != REDIS_OK)
            {
                return NULL;
            }
        }

        r = NULL;

        if (redisGetReply(rd->ctx, (void **) &r) == REDIS_OK && r != NULL) {
            return r;
        }

        if (rd->ctx->err != REDIS_ERR_EOF && rd->ctx->err != REDIS_ERR_IO) {
            return NULL;
        }

        snprintf(rd->err, sizeof(rd->err), "%s", rd->ctx->errstr);
        redisFree(rd->ctx);
        rd->ctx = NULL;
    }

    return NULL;
}


/* one command (printf-like fmt, or argc/argv/lens when fmt is NULL) in
 * one acme_redis_roundtrip(): its reply or NULL */
static redisReply *
acme_redis_command(acme_redis_t *rd, int argc, const char **argv,
    const size_t *lens, const char *fmt, ...)
{
    int          len;
    char        *cmd;
    va_list      args;
    redisReply  *r;

    cmd = NULL;

    if (fmt) {
        va_start(args, fmt);
        len = redisvFormatCommand(&cmd, fmt, args);
        va_end(args);

    } else {
        len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    }

    if (len < 0) {
        snprintf(rd->err, sizeof(rd->err), "out of memory");
        return NULL;
    }

    r = acme_redis_roundtrip(rd, &cmd, &len, 1);
    redisFreeCommand(cmd);

    return r;
}


/* a reply or NULL with rd->err set; a connection error drops the
 * connection so that the next call reconnects */
static redisReply *
acme_redis_check(acme_redis_t *rd, redisReply *r, const char *what)
{
    if (r == NULL) {
        /* no reply: the connection is gone, Redis is away */
        rd->outage = 1;

        if (rd->ctx) {
            snprintf(rd->err, sizeof(rd->err), "%s: %s", what,
                     rd->ctx->errstr[0] ? rd->ctx->errstr : "no reply");
            redisFree(rd->ctx);
            rd->ctx = NULL;
        }

        return NULL;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(rd->err, sizeof(rd->err), "%s: %s", what, r->str);
        freeReplyObject(r);
        return NULL;
    }

    return r;
}


/*
 * The next reply of a pipeline (acme_redis_roundtrip()), checked by
 * acme_redis_check(): the reply (the caller frees it) or NULL with
 * rd->err set.  After NULL, rd->ctx is NULL when the connection is gone;
 * otherwise the reply was an error and the connection is still in step.
 */
static redisReply *
acme_redis_next(acme_redis_t *rd, const char *what)
{
    redisReply  *r;

    if (rd->ctx == NULL) {
        snprintf(rd->err, sizeof(rd->err), "%s: not connected", what);
        return NULL;
    }

    r = NULL;

    if (redisGetReply(rd->ctx, (void **) &r) != REDIS_OK) {
        r = NULL;
    }

    return acme_redis_check(rd, r, what);
}


/* a command formatted for acme_redis_pair(): s is NULL when out of
 * memory */
typedef struct {
    char  *s;
    int    len;
} acme_redis_cmd_t;


static acme_redis_cmd_t
acme_redis_fmt(const char *fmt, ...)
{
    va_list           args;
    acme_redis_cmd_t  c;

    c.s = NULL;

    va_start(args, fmt);
    c.len = redisvFormatCommand(&c.s, fmt, args);
    va_end(args);

    if (c.len < 0) {
        c.s = NULL;
    }

    return c;
}


/*
 * Two commands (from acme_redis_fmt(), freed here) in one
 * acme_redis_roundtrip(): *first and *second get their replies (the caller
 * frees them), or ACME_ERROR with rd->err set and the connection still in
 * step (or dropped).
 */
static int
acme_redis_pair(acme_redis_t *rd, const char *what, acme_redis_cmd_t c1,
    acme_redis_cmd_t c2, redisReply **first, redisReply **second)
{
    int    lens[2];
    char  *cmds[2];

    *first = NULL;
    *second = NULL;

    if (c1.s == NULL || c2.s == NULL) {
        snprintf(rd->err, sizeof(rd->err), "%s: out of memory", what);

    } else {
        cmds[0] = c1.s;
        cmds[1] = c2.s;
        lens[0] = c1.len;
        lens[1] = c2.len;

        *first = acme_redis_check(rd, acme_redis_roundtrip(rd, cmds, lens, 2),
                                  what);

        /* the second reply is due whatever the first one was */
        if (rd->ctx != NULL) {
            *second = acme_redis_next(rd, what);
        }
    }

    redisFreeCommand(c1.s);
    redisFreeCommand(c2.s);

    if (*first == NULL || *second == NULL) {
        freeReplyObject(*first);
        freeReplyObject(*second);
        *first = NULL;
        *second = NULL;
        return ACME_ERROR;
    }

    return ACME_OK;
}


int
acme_redis_health(acme_redis_t *rd, time_t *beat)
{
    redisReply  *ping, *r;

    *beat = 0;

    if (acme_redis_pair(rd, "health", acme_redis_fmt("PING"),
                        acme_redis_fmt("GET acme:validator:heartbeat"),
                        &ping, &r)
        != ACME_OK)
    {
        return ACME_ERROR;
    }

    if (r->type == REDIS_REPLY_STRING) {
        *beat = (time_t) strtoll(r->str, NULL, 10);
    }

    freeReplyObject(ping);
    freeReplyObject(r);

    return ACME_OK;
}


/*
 * RFC 8555 6.5 spend.  Two plain commands in one round trip instead of a
 * Lua script, which cost Redis 24 us of CPU per request against 7 for the
 * two (bench/RESULTS.md, fourth round).  Not atomic, and need not be: the
 * SET NX alone decides "spent before"; the epoch only ever goes from
 * missing to set, and a GET that finds it missing (data lost, in any order
 * with the SET) makes a new epoch of now, which refuses this nonce.  The
 * epoch has one-second resolution, like the nonce's time: a nonce minted
 * and spent in the very second that Redis lost its data is the one case
 * not caught.
 */
int
acme_redis_nonce_spend(acme_redis_t *rd, const char *nonce, size_t len,
    time_t minted, int ttl, time_t now)
{
    int          fresh;
    long long    epoch;
    redisReply  *set, *r;

    if (len > 96) {
        return ACME_ERROR;
    }

    if (acme_redis_pair(rd, "nonce spend",
                        acme_redis_fmt("SET acme:nonce:%b 1 NX EX %d", nonce,
                                       len, ttl),
                        acme_redis_fmt("GET acme:nonce:epoch"), &set, &r)
        != ACME_OK)
    {
        return ACME_ERROR;
    }

    fresh = (set->type == REDIS_REPLY_STATUS);
    freeReplyObject(set);

    if (r->type != REDIS_REPLY_STRING) {
        /*
         * No epoch: Redis lost its data set (or never had one), and with
         * it the nonces spent so far.  This one begins now unless another
         * thread's began first; the nonce's key set above is harmless, as
         * a nonce older than the epoch is refused below anyway.
         */
        freeReplyObject(r);

        if (acme_redis_pair(rd, "nonce epoch",
                            acme_redis_fmt("SET acme:nonce:epoch %lld NX",
                                           (long long) now),
                            acme_redis_fmt("GET acme:nonce:epoch"), &set, &r)
            != ACME_OK)
        {
            return ACME_ERROR;
        }

        freeReplyObject(set);

        if (r->type != REDIS_REPLY_STRING) {
            snprintf(rd->err, sizeof(rd->err), "nonce epoch: not set");
            freeReplyObject(r);
            return ACME_ERROR;
        }
    }

    epoch = strtoll(r->str, NULL, 10);
    freeReplyObject(r);

    if ((long long) minted < epoch) {
        return ACME_NOT_FOUND;
    }

    return fresh ? ACME_OK : ACME_CONFLICT;
}


int
acme_redis_gcra(acme_redis_t *rd, const acme_redis_bucket_t *b, size_t n,
    long long now_ms, size_t *denied, long long *retry_ms)
{
    int          rc, argc;
    char         nums[1 + 2 * 16][24];
    size_t       i, lens[3 + 3 * 16];
    redisReply  *r;
    const char  *argv[3 + 3 * 16];

    if (n == 0) {
        return ACME_OK;
    }

    if (n > 16) {
        snprintf(rd->err, sizeof(rd->err), "rate limit: %zu buckets", n);
        return ACME_ERROR;
    }

    argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = acme_redis_gcra_lua;
    snprintf(nums[0], sizeof(nums[0]), "%zu", n);
    argv[argc++] = nums[0];

    for (i = 0; i < n; i++) {
        argv[argc++] = b[i].key;
    }

    snprintf(nums[1], sizeof(nums[1]), "%lld", now_ms);
    argv[argc++] = nums[1];

    for (i = 0; i < n; i++) {
        snprintf(nums[2 + 2 * i], sizeof(nums[0]), "%lld",
                 b[i].interval_ms);
        snprintf(nums[3 + 2 * i], sizeof(nums[0]), "%lld", b[i].burst);
        argv[argc++] = nums[2 + 2 * i];
        argv[argc++] = nums[3 + 2 * i];
    }

    for (i = 0; i < (size_t) argc; i++) {
        lens[i] = strlen(argv[i]);
    }

    r = acme_redis_command(rd, argc, argv, lens, NULL);
    r = acme_redis_check(rd, r, "rate limit");
    if (r == NULL) {
        return ACME_ERROR;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        snprintf(rd->err, sizeof(rd->err), "rate limit: unexpected reply");
        freeReplyObject(r);
        return ACME_ERROR;
    }

    rc = ACME_OK;

    if (r->element[0]->integer > 0) {
        *denied = (size_t) r->element[0]->integer - 1;
        *retry_ms = r->element[1]->integer;
        rc = ACME_CONFLICT;
    }

    freeReplyObject(r);

    return rc;
}


/* one entry "field id" on the validation stream, the stream capped */
static int
acme_redis_stream_add(acme_redis_t *rd, const char *field, const char *id)
{
    redisReply  *r;

    r = acme_redis_command(rd, 0, NULL, NULL, "XADD " ACME_REDIS_STREAM
                           " MAXLEN ~ 1000000 * %s %s", field, id);
    r = acme_redis_check(rd, r, "XADD");
    if (r == NULL) {
        return ACME_ERROR;
    }

    freeReplyObject(r);

    return ACME_OK;
}


int
acme_redis_job_add(acme_redis_t *rd, const char *chall_public_id)
{
    return acme_redis_stream_add(rd, "challenge", chall_public_id);
}


int
acme_redis_caa_add(acme_redis_t *rd, const char *authz_public_id)
{
    return acme_redis_stream_add(rd, "caa", authz_public_id);
}


int
acme_redis_group_create(acme_redis_t *rd)
{
    redisReply  *r;

    /* "0": entries added before the group existed are delivered too */
    r = acme_redis_command(rd, 0, NULL, NULL, "XGROUP CREATE "
                           ACME_REDIS_STREAM " " ACME_REDIS_GROUP
                           " 0 MKSTREAM");
    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "BUSYGROUP", 9) == 0)
    {
        freeReplyObject(r);
        return ACME_OK;
    }

    r = acme_redis_check(rd, r, "XGROUP CREATE");
    if (r == NULL) {
        return ACME_ERROR;
    }

    freeReplyObject(r);

    return ACME_OK;
}


/* entries: [[id, [field, value, ...]], ...]; deleted entries are nil */
static void
acme_redis_entries(redisReply *entries, acme_redis_job_t *jobs, size_t max,
    size_t *n)
{
    size_t       i, j;
    redisReply  *e, *f;

    for (i = 0; i < entries->elements && *n < max; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        snprintf(jobs[*n].entry_id, sizeof(jobs[*n].entry_id), "%s",
                 e->element[0]->str);
        jobs[*n].chall_id[0] = '\0';
        jobs[*n].caa = 0;

        f = e->element[1];

        for (j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements;
             j += 2)
        {
            if (f->element[j]->type == REDIS_REPLY_STRING
                && (strcmp(f->element[j]->str, "challenge") == 0
                    || strcmp(f->element[j]->str, "caa") == 0)
                && f->element[j + 1]->type == REDIS_REPLY_STRING)
            {
                snprintf(jobs[*n].chall_id, sizeof(jobs[*n].chall_id), "%s",
                         f->element[j + 1]->str);
                jobs[*n].caa = f->element[j]->str[1] == 'a';
            }
        }

        (*n)++;
    }
}


int
acme_redis_job_read(acme_redis_t *rd, const char *consumer, int block_ms,
    acme_redis_job_t *jobs, size_t max, size_t *n)
{
    size_t       i;
    redisReply  *r;

    *n = 0;

    if (acme_redis_ensure(rd) != ACME_OK) {
        return ACME_ERROR;
    }

    (void) redisSetTimeout(rd->ctx, acme_redis_tv(rd->timeout_ms + block_ms));

    r = acme_redis_command(rd, 0, NULL, NULL, "XREADGROUP GROUP "
                           ACME_REDIS_GROUP " %s COUNT %lu BLOCK %d STREAMS "
                           ACME_REDIS_STREAM " >", consumer,
                           (unsigned long) max, block_ms);

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "NOGROUP", 7) == 0)
    {
        /* the stream was lost (Redis restarted): make it again; the jobs
         * come back from PostgreSQL's stale scan */
        freeReplyObject(r);
        return acme_redis_group_create(rd);
    }

    r = acme_redis_check(rd, r, "XREADGROUP");
    if (r == NULL) {
        return ACME_ERROR;
    }

    (void) redisSetTimeout(rd->ctx, acme_redis_tv(rd->timeout_ms));

    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements; i++) {
            if (r->element[i]->type == REDIS_REPLY_ARRAY
                && r->element[i]->elements == 2)
            {
                acme_redis_entries(r->element[i]->element[1], jobs, max, n);
            }
        }
    }

    freeReplyObject(r);

    return ACME_OK;
}


int
acme_redis_job_claim(acme_redis_t *rd, const char *consumer, int min_idle_ms,
    acme_redis_job_t *jobs, size_t max, size_t *n)
{
    redisReply  *r;

    *n = 0;

    r = acme_redis_command(rd, 0, NULL, NULL, "XAUTOCLAIM "
                           ACME_REDIS_STREAM " " ACME_REDIS_GROUP
                           " %s %d 0-0 COUNT %lu", consumer, min_idle_ms,
                           (unsigned long) max);

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "NOGROUP", 7) == 0)
    {
        freeReplyObject(r);
        return acme_redis_group_create(rd);
    }

    r = acme_redis_check(rd, r, "XAUTOCLAIM");
    if (r == NULL) {
        return ACME_ERROR;
    }

    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2
        && r->element[1]->type == REDIS_REPLY_ARRAY)
    {
        acme_redis_entries(r->element[1], jobs, max, n);
    }

    freeReplyObject(r);

    return ACME_OK;
}


int
acme_redis_job_ack(acme_redis_t *rd, const char *entry_id)
{
    redisReply  *ack, *del;

    if (acme_redis_pair(rd, "XACK",
                        acme_redis_fmt("XACK " ACME_REDIS_STREAM " "
                                       ACME_REDIS_GROUP " %s", entry_id),
                        acme_redis_fmt("XDEL " ACME_REDIS_STREAM " %s",
                                       entry_id),
                        &ack, &del)
        != ACME_OK)
    {
        return ACME_ERROR;
    }

    freeReplyObject(ack);
    freeReplyObject(del);

    return ACME_OK;
}


int
acme_redis_heartbeat(acme_redis_t *rd, const char *consumer, time_t now,
    int ttl)
{
    size_t       len;
    redisReply  *all, *one;

    len = strlen(consumer);

    if (len == 0 || len > 128 || ttl <= 0) {
        snprintf(rd->err, sizeof(rd->err), "heartbeat: bad argument");
        return ACME_ERROR;
    }

    if (acme_redis_pair(rd, "heartbeat",
                        acme_redis_fmt("SET acme:validator:heartbeat %lld "
                                       "EX %d", (long long) now, ttl),
                        acme_redis_fmt("SET acme:validator:heartbeat:%b "
                                       "%lld EX %d", consumer, len,
                                       (long long) now, ttl),
                        &all, &one)
        != ACME_OK)
    {
        return ACME_ERROR;
    }

    freeReplyObject(all);
    freeReplyObject(one);

    return ACME_OK;
}
