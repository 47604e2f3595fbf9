/*
 * Copyright (C) nginx-acme-server authors
 *
 * CAA check (RFC 8659, with the accounturi and validationmethods
 * parameters of RFC 8657), run after a challenge succeeded and before it
 * is recorded valid.  Blocking; call from a worker thread.
 */

#ifndef ACMEV_CAA_H
#define ACMEV_CAA_H

#include "acme/acme_problem.h"
#include "store/acme_store_pg.h"
#include "acmev_conf.h"


/* CAA records quoted in the validation record */
#define ACMEV_CAA_SHOWN_MAX  16


/*
 * acmev_caa_check(): may this CA (conf->caa_ids, at least one) issue for
 * the job's identifier?  From the identifier (the base name of a
 * wildcard) up to, not including, the root, the first non-empty CAA RRset
 * is the relevant one (RFC 8659 3), CNAMEs followed at each name.  Then:
 * a record with an unknown tag and the critical flag refuses (RFC 8659
 * 4.1); for a wildcard authorization the issuewild records are used if
 * there is one, else the issue records (RFC 8659 4.3); when there are
 * none of them, issuance is not restricted; otherwise one of them must
 * parse (RFC 8659 4.2 grammar, strictly), name one of conf->caa_ids, and
 * satisfy its parameters: accounturi equal to account_uri_prefix followed
 * by the account id (RFC 8657 3), validationmethods listing the job's
 * type (RFC 8657 4).  IP identifiers have no CAA (RFC 8738 7): permitted.
 *
 * conf and job are borrowed.  *record is set to a new NUL-terminated JSON
 * object {"caa": {...}} (names asked, where the records were found, the
 * records considered, the result), caller frees with free(); NULL if
 * memory ran out.
 *
 * Returns ACMEV_OK (permitted); ACMEV_EFAILED with a "caa" problem naming
 * the records that refuse, or a "dns" problem when a lookup failed (RFC
 * 8659 5.4: a failure is not a permission); or ACMEV_ENOMEM.
 */
int acmev_caa_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record);


#endif /* ACMEV_CAA_H */
