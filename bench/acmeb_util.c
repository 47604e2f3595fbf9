/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: clock, latency samples and error counters.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "acmeb.h"


static int acmeb_u32_cmp(const void *a, const void *b);


static const char  *acmeb_step_names[ACMEB_STEP_N] = {
    "new-order", "authz", "challenge", "validate", "finalize",
    "issue-wait", "cert", "total"
};


double
acmeb_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


const char *
acmeb_step_name(acmeb_step_e step)
{
    return acmeb_step_names[step];
}


void
acmeb_samples_add(acmeb_samples_t *s, double seconds)
{
    size_t     cap;
    uint32_t  *v;

    if (s->n == s->cap) {
        cap = s->cap ? s->cap * 2 : 1024;
        v = realloc(s->v, cap * sizeof(uint32_t));
        if (v == NULL) {
            return;
        }
        s->v = v;
        s->cap = cap;
    }

    if (seconds < 0) {
        seconds = 0;
    }

    s->v[s->n++] = (seconds * 1e6 > 4e9) ? 4000000000u
                                         : (uint32_t) (seconds * 1e6);
}


void
acmeb_samples_merge(acmeb_samples_t *dst, acmeb_samples_t *src)
{
    size_t  i;

    for (i = 0; i < src->n; i++) {
        acmeb_samples_add(dst, src->v[i] / 1e6);
    }
}


static int
acmeb_u32_cmp(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


void
acmeb_samples_sort(acmeb_samples_t *s)
{
    if (s->n > 1) {
        qsort(s->v, s->n, sizeof(uint32_t), acmeb_u32_cmp);
    }
}


/* nearest-rank percentile of sorted samples, in seconds; 0 when empty */
double
acmeb_samples_pct(acmeb_samples_t *s, double pct)
{
    size_t  i;

    if (s->n == 0) {
        return 0;
    }

    i = (size_t) (pct / 100.0 * s->n + 0.999999);
    if (i < 1) {
        i = 1;
    }
    if (i > s->n) {
        i = s->n;
    }

    return s->v[i - 1] / 1e6;
}


void
acmeb_samples_free(acmeb_samples_t *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
    s->cap = 0;
}


void
acmeb_stats_problem(acmeb_stats_t *st, const char *type)
{
    int  i;

    st->errors++;

    for (i = 0; i < st->nproblems; i++) {
        if (strcmp(st->problems[i].type, type) == 0) {
            st->problems[i].count++;
            return;
        }
    }

    if (st->nproblems == ACMEB_MAX_PROBLEMS) {
        i = ACMEB_MAX_PROBLEMS - 1;
        strcpy(st->problems[i].type, "(other)");
        st->problems[i].count++;
        return;
    }

    i = st->nproblems++;
    strncpy(st->problems[i].type, type, sizeof(st->problems[i].type) - 1);
    st->problems[i].type[sizeof(st->problems[i].type) - 1] = '\0';
    st->problems[i].count = 1;
}


void
acmeb_stats_merge(acmeb_stats_t *dst, acmeb_stats_t *src)
{
    int   i;
    long  k;

    for (i = 0; i < ACMEB_STEP_N; i++) {
        acmeb_samples_merge(&dst->steps[i], &src->steps[i]);
    }

    dst->ops += src->ops;
    dst->requests += src->requests;
    dst->bad_nonce += src->bad_nonce;
    dst->retry_after_waits += src->retry_after_waits;
    dst->retry_after_sum += src->retry_after_sum;
    dst->polls += src->polls;

    for (i = 0; i < src->nproblems; i++) {
        for (k = 0; k < src->problems[i].count; k++) {
            acmeb_stats_problem(dst, src->problems[i].type);
        }
    }
}


void
acmeb_stats_free(acmeb_stats_t *st)
{
    int  i;

    for (i = 0; i < ACMEB_STEP_N; i++) {
        acmeb_samples_free(&st->steps[i]);
    }
}
