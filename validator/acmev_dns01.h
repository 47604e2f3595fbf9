/*
 * Copyright (C) nginx-acme-server authors
 *
 * dns-01 challenge check (RFC 8555 8.4).  Blocking; call from a worker
 * thread.
 */

#ifndef ACMEV_DNS01_H
#define ACMEV_DNS01_H

#include "acme/acme_problem.h"
#include "store/acme_store_pg.h"
#include "acmev_conf.h"


/* TXT values quoted in a problem detail and in the validation record */
#define ACMEV_DNS01_SEEN_MAX   16


/*
 * acmev_dns01_check(): looks up the TXT RRset at "_acme-challenge." NAME
 * (NAME the identifier value; for a wildcard authorization it is already
 * the base name, RFC 8555 7.1.3) through conf's resolvers, following
 * CNAMEs (acmev_dns_lookup()).  Every record is considered; the
 * character-strings of one record are joined (RFC 1035 3.3.14, RFC 7208
 * 3.3).  One record must equal base64url(SHA-256(keyAuthorization))
 * (RFC 8555 8.4).
 *
 * conf and job are borrowed.  *record is set to a new NUL-terminated JSON
 * array holding one validation record ({hostname, resolver, cnames,
 * answerName, txt}), caller frees with free(); NULL if memory ran out.
 *
 * Returns ACMEV_OK (valid); ACMEV_EFAILED with the RFC 8555 6.7 problem in
 * *prob: unauthorized when the name does not exist or has no TXT record,
 * incorrectResponse when no record matches (the detail quotes what was
 * found, cut short), dns for SERVFAIL, timeouts and CNAME loops,
 * unsupportedIdentifier for an IP identifier (RFC 8738 7); or
 * ACMEV_ENOMEM (nothing decided; retry).
 */
int acmev_dns01_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record);


#endif /* ACMEV_DNS01_H */
