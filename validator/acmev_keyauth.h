/*
 * Copyright (C) nginx-acme-server authors
 *
 * The key authorization of a challenge (RFC 8555 8.1) and its SHA-256
 * digest, which dns-01 (RFC 8555 8.4) and tls-alpn-01 (RFC 8737 3)
 * publish instead of the string itself.
 */

#ifndef ACMEV_KEYAUTH_H
#define ACMEV_KEYAUTH_H

#include "acme/acme_core.h"
#include "store/acme_store_pg.h"


#define ACMEV_KEYAUTH_MAX      (ACME_TOKEN_LEN + ACME_THUMBPRINT_LEN + 2)
#define ACMEV_KEYAUTH_MD_LEN   32                     /* SHA-256 */
#define ACMEV_KEYAUTH_TXT_LEN  43                     /* its base64url */


/*
 * acmev_keyauth(): RFC 8555 8.1: keyAuthorization = token || '.' ||
 * base64url(Thumbprint(accountKey)), NUL-terminated into buf (at least
 * ACMEV_KEYAUTH_MAX bytes).  job is borrowed.  ACMEV_OK, or ACMEV_EINVAL
 * when the job has no token or thumbprint.
 */
int acmev_keyauth(const acme_pg_job_t *job, char *buf, size_t size);

/*
 * acmev_keyauth_digest(): SHA-256(keyAuthorization) into md
 * (ACMEV_KEYAUTH_MD_LEN bytes), the acmeIdentifier extension's content
 * (RFC 8737 3).  ACMEV_OK, ACMEV_EINVAL as above, or ACMEV_ERROR when
 * OpenSSL failed (logged).
 */
int acmev_keyauth_digest(const acme_pg_job_t *job, unsigned char *md);

/*
 * acmev_keyauth_txt(): base64url(SHA-256(keyAuthorization)) without
 * padding, the TXT record value of RFC 8555 8.4, NUL-terminated into txt
 * (ACMEV_KEYAUTH_TXT_LEN + 1 bytes).  Returns as acmev_keyauth_digest().
 */
int acmev_keyauth_txt(const acme_pg_job_t *job, char *txt);


#endif /* ACMEV_KEYAUTH_H */
