/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_conf.h"
#include "acmev_metrics.h"
#include "acmev_heartbeat.h"


/* a mark is late once it waits this long: a hung Redis must not hold the
 * thread (or the exit that joins it) for the whole "timeout" */
#define ACMEV_HEARTBEAT_REDIS_MS  3000


static void *acmev_heartbeat_main(void *arg);


int
acmev_heartbeat_start(acmev_heartbeat_t *hb, atomic_int *quit)
{
    int            rc, err;
    acmev_conf_t  *conf;

    conf = acmev_conf_acquire();

    hb->quit = quit;
    hb->consumer = strdup(conf->consumer);
    hb->rd = acme_redis_open(conf->redis_host, conf->redis_port,
                             ACMEV_HEARTBEAT_REDIS_MS);

    acmev_conf_release(conf);

    if (hb->consumer == NULL || hb->rd == NULL) {
        acmev_log(LOG_ERR, "heartbeat: out of memory");
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    err = pthread_create(&hb->tid, NULL, acmev_heartbeat_main, hb);
    if (err != 0) {
        acmev_log(LOG_ERR, "heartbeat: pthread_create() failed: %s",
                  strerror(err));
        rc = ACMEV_EIO;
        goto failed;
    }

    return ACMEV_OK;

failed:

    free(hb->consumer);
    hb->consumer = NULL;
    acme_redis_close(hb->rd);
    hb->rd = NULL;

    return rc;
}


void
acmev_heartbeat_join(acmev_heartbeat_t *hb)
{
    pthread_join(hb->tid, NULL);

    free(hb->consumer);
    acme_redis_close(hb->rd);
    hb->consumer = NULL;
    hb->rd = NULL;
}


static void *
acmev_heartbeat_main(void *arg)
{
    int                 i, down;
    time_t              now;
    struct timespec     ts;
    acmev_heartbeat_t  *hb;

    hb = arg;
    down = 0;

    ts.tv_sec = 0;
    ts.tv_nsec = 100 * 1000000L;

    while (!atomic_load(hb->quit)) {
        now = time(NULL);

        if (acme_redis_heartbeat(hb->rd, hb->consumer, now,
                                 ACMEV_HEARTBEAT_TTL)
            == ACME_OK)
        {
            acmev_metrics_heartbeat(now);

            if (down) {
                acmev_log(LOG_NOTICE, "heartbeat: redis reachable again");
                down = 0;
            }

        } else {
            acmev_metrics_error(ACMEV_METRICS_ERR_REDIS);

            /* the first failure of a series, as the workers do */
            acmev_log(down ? LOG_DEBUG : LOG_ERR, "heartbeat: redis: %s",
                      acme_redis_errmsg(hb->rd));
            down = 1;
        }

        /* in 100 ms steps, to notice a quit request */
        for (i = 0; i < ACMEV_HEARTBEAT_INTERVAL * 10
                        && !atomic_load(hb->quit); i++)
        {
            nanosleep(&ts, NULL);
        }
    }

    return NULL;
}
