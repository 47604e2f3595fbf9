/*
 * Copyright (C) nginx-acme-server authors
 *
 * Validator logging: one line per message to stderr (with a timestamp) or
 * to syslog.  Priorities are syslog's (LOG_ERR ... LOG_DEBUG).  Safe to
 * call from any thread.
 */

#ifndef ACMEV_LOG_H
#define ACMEV_LOG_H

#include <syslog.h>


/*
 * acmev_log_init(): use_syslog != 0 sends messages to syslog(3) with ident
 * (borrowed for the life of the process, as openlog(3) requires); else to
 * stderr.  level is the most verbose priority written (LOG_ERR ..
 * LOG_DEBUG).  Call before any thread starts.
 */
void acmev_log_init(int use_syslog, const char *ident, int level);

/* change the level at run time (SIGHUP reload); atomic, any thread */
void acmev_log_set_level(int level);

/* the priority name ("error", "warn", ...) or NULL for an unknown one */
const char *acmev_log_level_name(int level);

/* "error"|"warn"|"notice"|"info"|"debug" -> LOG_*; -1 when unknown */
int acmev_log_level_parse(const char *name);

/* writes one message at prio when prio <= the level; never allocates */
void acmev_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


#endif /* ACMEV_LOG_H */
