/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: CPU time and peak RSS of the server's processes, read from
 * /proc (proc(5)).  A snapshot covers the given pids and all their
 * descendants (nginx workers, PostgreSQL backends), so that a process
 * started during the run is counted too.
 */

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "acmeb.h"


typedef struct {
    int                 pid;
    int                 ppid;
    unsigned long long  start;
    double              cpu;     /* own and reaped children's, seconds */
    int                 member;
} acmeb_pstat_t;


struct acmeb_proc_s {
    acmeb_pstat_t      *p;
    int                 n;
    long                hwm_kb;
    long                rss_kb;
};


static int acmeb_proc_read_stat(int pid, acmeb_pstat_t *ps);
static void acmeb_proc_read_status(int pid, long *hwm, long *rss);


static int
acmeb_proc_read_stat(int pid, acmeb_pstat_t *ps)
{
    int                 i, n;
    char                path[64], buf[1024], *p, *f[52];
    FILE               *fp;
    double              tick;
    unsigned long long  ut, st, cut, cst;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);

    fp = fopen(path, "r");
    if (fp == NULL) {
        return -1;
    }

    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);

    if (n <= 0) {
        return -1;
    }

    buf[n] = '\0';

    /* the command may hold blanks and parentheses: fields start after
     * the last ')' with field 3 (state) */
    p = strrchr(buf, ')');
    if (p == NULL) {
        return -1;
    }

    p++;
    for (i = 0; i < 52; i++) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0' || *p == '\n') {
            break;
        }
        f[i] = p;
        while (*p && *p != ' ' && *p != '\n') {
            p++;
        }
    }

    /* f[0] is field 3; utime is field 14, starttime field 22 */
    if (i < 20) {
        return -1;
    }

    tick = (double) sysconf(_SC_CLK_TCK);

    ps->pid = pid;
    ps->ppid = atoi(f[1]);
    ut = strtoull(f[11], NULL, 10);
    st = strtoull(f[12], NULL, 10);
    cut = strtoull(f[13], NULL, 10);
    cst = strtoull(f[14], NULL, 10);
    ps->start = strtoull(f[19], NULL, 10);
    ps->cpu = (ut + st + cut + cst) / tick;
    ps->member = 0;

    return 0;
}


static void
acmeb_proc_read_status(int pid, long *hwm, long *rss)
{
    char   path[64], line[256];
    FILE  *fp;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);

    fp = fopen(path, "r");
    if (fp == NULL) {
        return;
    }

    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            *hwm += atol(line + 6);

        } else if (strncmp(line, "VmRSS:", 6) == 0) {
            *rss += atol(line + 6);
        }
    }

    fclose(fp);
}


acmeb_proc_t *
acmeb_proc_take(const int *pids, int npids)
{
    int             i, j, n, cap, changed;
    DIR            *d;
    acmeb_proc_t   *pr;
    acmeb_pstat_t  *all, *tmp;
    struct dirent  *de;

    pr = calloc(1, sizeof(acmeb_proc_t));
    if (pr == NULL) {
        return NULL;
    }

    if (npids == 0) {
        return pr;
    }

    d = opendir("/proc");
    if (d == NULL) {
        return pr;
    }

    all = NULL;
    n = 0;
    cap = 0;

    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char) de->d_name[0])) {
            continue;
        }

        if (n == cap) {
            cap = cap ? cap * 2 : 512;
            tmp = realloc(all, cap * sizeof(acmeb_pstat_t));
            if (tmp == NULL) {
                break;
            }
            all = tmp;
        }

        if (acmeb_proc_read_stat(atoi(de->d_name), &all[n]) == 0) {
            n++;
        }
    }

    closedir(d);

    for (i = 0; i < n; i++) {
        for (j = 0; j < npids; j++) {
            if (all[i].pid == pids[j]) {
                all[i].member = 1;
            }
        }
    }

    /* descendants: repeat until no new member (the tree is shallow) */
    do {
        changed = 0;
        for (i = 0; i < n; i++) {
            if (all[i].member) {
                continue;
            }
            for (j = 0; j < n; j++) {
                if (all[j].member && all[j].pid == all[i].ppid) {
                    all[i].member = 1;
                    changed = 1;
                    break;
                }
            }
        }
    } while (changed);

    pr->p = all;
    pr->n = n;

    for (i = 0, j = 0; i < n; i++) {
        if (all[i].member) {
            acmeb_proc_read_status(all[i].pid, &pr->hwm_kb, &pr->rss_kb);
            all[j++] = all[i];
        }
    }

    pr->n = j;

    return pr;
}


/* CPU seconds used by the members of b since a; a process that did not
 * exist in a is counted whole */
double
acmeb_proc_cpu_between(acmeb_proc_t *a, acmeb_proc_t *b)
{
    int     i, j;
    double  sum, before;

    sum = 0;

    for (i = 0; i < b->n; i++) {
        before = 0;
        for (j = 0; j < a->n; j++) {
            if (a->p[j].pid == b->p[i].pid
                && a->p[j].start == b->p[i].start)
            {
                before = a->p[j].cpu;
                break;
            }
        }
        sum += b->p[i].cpu - before;
    }

    return sum;
}


long
acmeb_proc_hwm_kb(acmeb_proc_t *p)
{
    return p->hwm_kb;
}


long
acmeb_proc_rss_kb(acmeb_proc_t *p)
{
    return p->rss_kb;
}


int
acmeb_proc_count(acmeb_proc_t *p)
{
    return p->n;
}


void
acmeb_proc_free(acmeb_proc_t *p)
{
    if (p == NULL) {
        return;
    }

    free(p->p);
    free(p);
}
