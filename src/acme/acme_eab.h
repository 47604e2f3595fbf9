/*
 * Copyright (C) nginx-acme-server authors
 *
 * External Account Binding (RFC 8555 7.3.4): the MAC-signed JWS inside a
 * newAccount payload that ties a new ACME account to a key the CA issued
 * out of band.
 */

#ifndef ACME_EAB_H
#define ACME_EAB_H

#include <jansson.h>
#include "acme_core.h"
#include "acme_problem.h"


#define ACME_EAB_KID_MAX  128

typedef struct {
    char            kid[ACME_EAB_KID_MAX + 1];
    const char     *md;              /* "SHA256", "SHA384", "SHA512" */
    char           *signing_input;   /* owned */
    size_t          signing_input_len;
    unsigned char  *mac;             /* owned */
    size_t          mac_len;
    json_t         *jwk;             /* the bound key (owned) */
} acme_eab_t;


/*
 * acme_eab_parse(): eab is the "externalAccountBinding" member (borrowed).
 * Checks RFC 8555 7.3.4: a flattened JWS with protected header only, "alg"
 * HS256/HS384/HS512 (else badSignatureAlgorithm), a string "kid", no
 * "nonce", "url" equal to url, and a payload that is the JWK of the outer
 * request (its RFC 7638 canonical form equals account_canonical).
 * Faults are malformed (unauthorized for a JWK mismatch).  Release *out
 * with acme_eab_clear(), also after a failure.
 */
int acme_eab_parse(const json_t *eab, const char *url,
    const char *account_canonical, acme_eab_t *out, acme_problem_t *p);

/*
 * acme_eab_verify(): the MAC of *e under key (key_len octets), compared in
 * constant time.  ACME_OK, or ACME_ERROR with unauthorized.
 */
int acme_eab_verify(const acme_eab_t *e, const unsigned char *key,
    size_t key_len, acme_problem_t *p);

void acme_eab_clear(acme_eab_t *e);


#endif /* ACME_EAB_H */
