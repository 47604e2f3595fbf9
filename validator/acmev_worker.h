/*
 * Copyright (C) nginx-acme-server authors
 *
 * Worker threads: consumers of the validation stream (DESIGN.md
 * "Validation").  Each thread has its own PostgreSQL and Redis connection,
 * reads jobs with XREADGROUP, runs the challenge check, records the result
 * with acme_pg_chall_result() and only then acknowledges the job.  Worker 0
 * also reclaims jobs left unacknowledged (XAUTOCLAIM) and re-enqueues
 * challenges stuck in "processing" (a Redis that lost its data).
 */

#ifndef ACMEV_WORKER_H
#define ACMEV_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/acme_store_pg.h"
#include "store/acme_store_redis.h"


#define ACMEV_CONSUMER_MAX  128

typedef struct acmev_worker_s  acmev_worker_t;

struct acmev_worker_s {
    int           index;
    pthread_t     tid;
    char          consumer[ACMEV_CONSUMER_MAX];
    atomic_int   *quit;          /* borrowed: set to 1 to drain and stop */
    acme_pg_t    *pg;            /* this thread's connections */
    acme_redis_t *rd;
};


/*
 * acmev_worker_start(): makes the connection handles of worker index
 * (0 .. workers-1) from the published configuration (acmev_conf_acquire();
 * the connections themselves are made, and re-made, by the thread) and
 * starts its thread.  w is caller-owned and must outlive the thread; quit
 * is borrowed likewise.  The thread finishes the job in hand, then returns,
 * once *quit != 0.  Returns ACMEV_OK, ACMEV_ENOMEM or ACMEV_EIO
 * (pthread_create failed); logged.
 */
int acmev_worker_start(acmev_worker_t *w, int index, atomic_int *quit);

/* waits for a started worker to return and closes its connections */
void acmev_worker_join(acmev_worker_t *w);


#endif /* ACMEV_WORKER_H */
