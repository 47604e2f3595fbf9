/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "acme/acme_base64url.h"
#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_keyauth.h"


int
acmev_keyauth(const acme_pg_job_t *job, char *buf, size_t size)
{
    int  n;

    if (job->token[0] == '\0' || job->thumbprint[0] == '\0') {
        return ACMEV_EINVAL;
    }

    n = snprintf(buf, size, "%s.%s", job->token, job->thumbprint);

    if (n < 0 || (size_t) n >= size) {
        return ACMEV_EINVAL;
    }

    return ACMEV_OK;
}


int
acmev_keyauth_digest(const acme_pg_job_t *job, unsigned char *md)
{
    int           rc;
    char          keyauth[ACMEV_KEYAUTH_MAX];
    unsigned int  len;

    rc = acmev_keyauth(job, keyauth, sizeof(keyauth));
    if (rc != ACMEV_OK) {
        return rc;
    }

    len = 0;

    if (EVP_Digest(keyauth, strlen(keyauth), md, &len, EVP_sha256(), NULL)
        != 1 || len != ACMEV_KEYAUTH_MD_LEN)
    {
        acmev_log(LOG_ERR, "EVP_Digest(SHA-256) failed");
        return ACMEV_ERROR;
    }

    return ACMEV_OK;
}


int
acmev_keyauth_txt(const acme_pg_job_t *job, char *txt)
{
    int            rc;
    size_t         n;
    unsigned char  md[ACMEV_KEYAUTH_MD_LEN];

    rc = acmev_keyauth_digest(job, md);
    if (rc != ACMEV_OK) {
        return rc;
    }

    n = acme_b64u_encode(txt, md, sizeof(md));
    txt[n] = '\0';

    return ACMEV_OK;
}
