/*
 * Copyright (C) nginx-acme-server authors
 *
 * Redis storage (hiredis 0.14, synchronous API).  Every hiredis call of
 * the project is in acme_store_redis.c.  Blocking: call from an nginx
 * thread-pool task or from the validator.
 *
 * Redis holds only what may be lost (DESIGN.md): spent nonces, the nonce
 * epoch, and the validation stream "acme:validations" with consumer group
 * "validators".  A stream entry has one field, "challenge", whose value is
 * the challenge's public id; everything else is read from PostgreSQL.
 */

#ifndef ACME_STORE_REDIS_H
#define ACME_STORE_REDIS_H

#include <time.h>
#include <stddef.h>
#include "../acme/acme_core.h"


#define ACME_REDIS_STREAM  "acme:validations"
#define ACME_REDIS_GROUP   "validators"

typedef struct acme_redis_s  acme_redis_t;

/* a job read from the stream */
typedef struct {
    char   entry_id[64];                 /* stream entry id, for XACK */
    char   chall_id[ACME_ID_LEN + 1];    /* challenge public id, or the
                                            authorization's for a CAA job */
    int    caa;                          /* a CAA recheck ("caa" field) */
} acme_redis_job_t;


/*
 * acme_redis_open(): host (name, IPv4, IPv6 or a unix socket path when it
 * starts with '/'), port, timeout in milliseconds for connect and each
 * command.  Returns a new handle (free with acme_redis_close) or NULL on
 * allocation failure; the connection itself is made lazily and re-made
 * after any failure.  acme_redis_errmsg() is borrowed until the next call.
 */
acme_redis_t *acme_redis_open(const char *host, int port, int timeout_ms);
void acme_redis_close(acme_redis_t *rd);
const char *acme_redis_errmsg(acme_redis_t *rd);

/* after a failure: 1 when it left no connection (Redis is away), which is
 * an outage (503) rather than a fault */
int acme_redis_outage(acme_redis_t *rd);

/*
 * acme_redis_health(): PING, then GET of the validators' heartbeat key
 * "acme:validator:heartbeat" (unix time of the last beat); *beat is 0 when
 * no validator beat within the key's TTL.  ACME_OK or ACME_ERROR.
 */
int acme_redis_health(acme_redis_t *rd, time_t *beat);

/*
 * RFC 8555 6.5 nonce spending, one round trip (a pipeline of two
 * commands): "SET acme:nonce:<nonce> 1 NX EX ttl" and the epoch key
 * "acme:nonce:epoch" (unix time when this Redis data set began).  A nonce
 * minted before the epoch began cannot be proved unspent and is refused; a
 * missing epoch (Redis lost its data) is set to now.  Returns ACME_OK
 * (spent now), ACME_CONFLICT (already spent), ACME_NOT_FOUND (older than
 * the epoch) or ACME_ERROR.
 */
int acme_redis_nonce_spend(acme_redis_t *rd, const char *nonce, size_t len,
    time_t minted, int ttl, time_t now);

/* one GCRA bucket of a rate limit (DESIGN.md "Policy, rate limits") */
typedef struct {
    const char  *key;            /* e.g. "acme:rl:new_order:<account>" */
    long long    interval_ms;    /* emission interval: period / rate */
    long long    burst;          /* requests allowed at once, >= 1 */
} acme_redis_bucket_t;

/*
 * acme_redis_gcra(): checks every bucket and, only if all allow one more
 * request, spends one from each, in one atomic script call (one round
 * trip).  Returns ACME_OK (allowed), ACME_CONFLICT (refused: *denied is
 * the index of the first full bucket and *retry_ms when it allows again)
 * or ACME_ERROR.  Bucket state expires with the bucket, so an idle bucket
 * costs nothing; changing interval or burst applies at once.
 */
int acme_redis_gcra(acme_redis_t *rd, const acme_redis_bucket_t *b,
    size_t n, long long now_ms, size_t *denied, long long *retry_ms);

/* XADD one validation job (DESIGN.md "Validation") */
int acme_redis_job_add(acme_redis_t *rd, const char *chall_public_id);

/* XADD a CAA recheck of an authorization (field "caa", CA/B BR 3.2.2.8) */
int acme_redis_caa_add(acme_redis_t *rd, const char *authz_public_id);

/*
 * Validator side.  acme_redis_group_create() makes the stream and group if
 * missing (BUSYGROUP is success).  acme_redis_job_read(): XREADGROUP of at
 * most max new entries for consumer, blocking up to block_ms; *n is set to
 * the count.  acme_redis_job_claim(): XAUTOCLAIM of entries idle longer
 * than min_idle_ms.  acme_redis_job_ack(): XACK and XDEL.
 */
int acme_redis_group_create(acme_redis_t *rd);
int acme_redis_job_read(acme_redis_t *rd, const char *consumer,
    int block_ms, acme_redis_job_t *jobs, size_t max, size_t *n);
int acme_redis_job_claim(acme_redis_t *rd, const char *consumer,
    int min_idle_ms, acme_redis_job_t *jobs, size_t max, size_t *n);
int acme_redis_job_ack(acme_redis_t *rd, const char *entry_id);

/*
 * acme_redis_heartbeat(): the validator's liveness mark, one round trip
 * (two pipelined commands): "SET acme:validator:heartbeat <now> EX ttl",
 * read by the module's readiness check, and the same for
 * "acme:validator:heartbeat:<consumer>", one per validator process.
 * consumer is borrowed, a non-empty name of at most 128 bytes; ttl > 0
 * seconds.  Returns ACME_OK, or ACME_ERROR with acme_redis_errmsg() set
 * (either key may then be stale: both expire on their own).
 */
int acme_redis_heartbeat(acme_redis_t *rd, const char *consumer, time_t now,
    int ttl);


#endif /* ACME_STORE_REDIS_H */
