/*
 * Copyright (C) nginx-acme-server authors
 *
 * http-01 challenge check (RFC 8555 8.3).  Every libcurl call of the
 * validator is in acmev_http01.c.  Blocking; call from a worker thread.
 * curl_global_init() must have run before any thread started.
 */

#ifndef ACMEV_HTTP01_H
#define ACMEV_HTTP01_H

#include "acme/acme_problem.h"
#include "store/acme_store_pg.h"
#include "acmev_conf.h"


#define ACMEV_HTTP01_BODY_MAX      8192
#define ACMEV_HTTP01_REDIRECTS     10

/* the whole check may take this many conf->timeout steps */
#define ACMEV_HTTP01_STEPS         6


/*
 * acmev_http01_check(): fetches
 * http://NAME[:http01_port]/.well-known/acme-challenge/TOKEN for the job's
 * identifier (a DNS name resolved through conf's resolvers, or an IP
 * address, RFC 8738 3) with Host = NAME, at most ACMEV_HTTP01_REDIRECTS
 * redirects to http or https URLs on port 80, 443 or http01_port, each host
 * resolved again by us and refused when its addresses are reserved (unless
 * allow_private_addresses).  IPv6 is tried first and IPv4 after a failed
 * connect.  The body, with trailing whitespace removed, must equal the key
 * authorization token "." thumbprint (RFC 8555 8.1).
 *
 * conf and job are borrowed.  *record is set to a new NUL-terminated JSON
 * array of validation records, one per request ({url, hostname, port,
 * addressesResolved, addressUsed}), caller frees with free(); it may be
 * NULL if memory ran out.
 *
 * Returns ACMEV_OK (the challenge is valid), ACMEV_EFAILED (invalid: *prob
 * holds the RFC 8555 6.7 problem: dns, connection, tls, unauthorized for
 * a non-200 status, incorrectResponse for a wrong body, serverInternal
 * for a job we cannot check) or ACMEV_ENOMEM (nothing decided; retry).
 */
int acmev_http01_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record);


#endif /* ACMEV_HTTP01_H */
