/*
 * Copyright (C) nginx-acme-server authors
 *
 * Heartbeat: a thread with its own Redis connection that writes the
 * validator's liveness mark (acme_redis_heartbeat(): the key
 * "acme:validator:heartbeat" and one per consumer name, unix time, TTL
 * ACMEV_HEARTBEAT_TTL) every ACMEV_HEARTBEAT_INTERVAL seconds.  The
 * module's readiness check reads the first key.  It runs apart from the
 * workers so that slow checks (up to six timeouts) never let it expire;
 * it says that the process runs and reaches Redis, not that jobs move
 * (acme_validator_queue_lag_seconds says that).
 */

#ifndef ACMEV_HEARTBEAT_H
#define ACMEV_HEARTBEAT_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/acme_store_redis.h"


#define ACMEV_HEARTBEAT_INTERVAL  5      /* seconds between two marks */
#define ACMEV_HEARTBEAT_TTL       30     /* seconds a mark lives */

typedef struct {
    pthread_t      tid;
    char          *consumer;     /* key suffix, the "consumer" option */
    atomic_int    *quit;         /* borrowed: set to 1 to stop */
    acme_redis_t  *rd;
} acmev_heartbeat_t;


/*
 * acmev_heartbeat_start(): takes the Redis address and consumer name from
 * the published configuration and starts the thread, which writes a mark
 * at once, then every interval, until *quit != 0.  hb is caller-owned and
 * must outlive the thread; quit is borrowed likewise.  Returns ACMEV_OK,
 * ACMEV_ENOMEM or ACMEV_EIO (pthread_create failed); logged.  A Redis
 * that is down is not an error here: the thread keeps trying.
 */
int acmev_heartbeat_start(acmev_heartbeat_t *hb, atomic_int *quit);

/* waits for a started heartbeat thread and frees what it holds */
void acmev_heartbeat_join(acmev_heartbeat_t *hb);


#endif /* ACMEV_HEARTBEAT_H */
