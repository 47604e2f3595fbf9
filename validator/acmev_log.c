/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <syslog.h>
#include <pthread.h>
#include <stdatomic.h>

#include "acmev_log.h"


#define ACMEV_LOG_LINE_MAX  2048


static const struct {
    int          prio;
    const char  *name;
} acmev_log_levels[] = {
    { LOG_ERR,     "error" },
    { LOG_WARNING, "warn" },
    { LOG_NOTICE,  "notice" },
    { LOG_INFO,    "info" },
    { LOG_DEBUG,   "debug" },
};


static atomic_int  acmev_log_level = LOG_NOTICE;
static int         acmev_log_syslog;


void
acmev_log_init(int use_syslog, const char *ident, int level)
{
    acmev_log_syslog = use_syslog;
    atomic_store(&acmev_log_level, level);

    if (use_syslog) {
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    }
}


void
acmev_log_set_level(int level)
{
    atomic_store(&acmev_log_level, level);
}


const char *
acmev_log_level_name(int level)
{
    size_t  i;

    for (i = 0; i < sizeof(acmev_log_levels) / sizeof(acmev_log_levels[0]);
         i++)
    {
        if (acmev_log_levels[i].prio == level) {
            return acmev_log_levels[i].name;
        }
    }

    return NULL;
}


int
acmev_log_level_parse(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(acmev_log_levels) / sizeof(acmev_log_levels[0]);
         i++)
    {
        if (strcasecmp(acmev_log_levels[i].name, name) == 0) {
            return acmev_log_levels[i].prio;
        }
    }

    return -1;
}


void
acmev_log(int prio, const char *fmt, ...)
{
    int          n, len;
    char         line[ACMEV_LOG_LINE_MAX];
    time_t       now;
    va_list      ap;
    struct tm    tm;
    const char  *name;

    if (prio > atomic_load(&acmev_log_level)) {
        return;
    }

    if (acmev_log_syslog) {
        va_start(ap, fmt);
        vsyslog(prio, fmt, ap);
        va_end(ap);
        return;
    }

    name = acmev_log_level_name(prio);
    now = time(NULL);
    localtime_r(&now, &tm);

    len = (int) strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S ", &tm);

    n = snprintf(line + len, sizeof(line) - len, "[%s] %d: ",
                 name ? name : "?", (int) getpid());
    len += n;

    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);

    if (n < 0) {
        n = 0;
    }

    len += n;

    if (len > (int) sizeof(line) - 2) {
        len = (int) sizeof(line) - 2;
    }

    line[len++] = '\n';

    /* one write(2) per line, so that lines of several threads never mix */
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nowhere left to report it */
    }
}
