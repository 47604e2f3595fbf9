/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: JSON text through acme_jwk_import() and
 * acme_jwk_thumbprint().  An imported key must come with an RFC 7638
 * canonical form that is itself a JWK importing to the same key and the
 * same canonical form (a fixed point), and a 43-character thumbprint.
 */

#include <stdint.h>
#include <string.h>
#include "acme/acme_jwk.h"
#include "fuzz_common.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char             canonical[ACME_JWK_CANONICAL_MAX];
    char             again[ACME_JWK_CANONICAL_MAX];
    char             thumb[ACME_THUMBPRINT_LEN + 1];
    json_t          *jwk, *cjwk;
    EVP_PKEY        *pkey, *ckey;
    json_error_t     err;
    acme_problem_t   p;

    /* as the glue gets it: a member of a parsed protected header */
    jwk = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                     &err);
    if (jwk == NULL) {
        return 0;
    }

    memset(canonical, 0, sizeof(canonical));

    if (acme_jwk_import(jwk, &pkey, canonical, &p) != ACME_OK) {
        FUZZ_CHECK(pkey == NULL);
        FUZZ_CHECK(p.type == ACME_PROB_BAD_PUBLIC_KEY
                   || (p.type == ACME_PROB_MALFORMED
                       && !json_is_object(jwk)));
        fuzz_problem_check(&p, ACME_PROB_NONE);
        json_decref(jwk);
        return 0;
    }

    FUZZ_CHECK(pkey != NULL);
    FUZZ_CHECK(strlen(canonical) < sizeof(canonical) - 1);

    FUZZ_CHECK(acme_jwk_thumbprint(canonical, strlen(canonical), thumb)
               == ACME_OK);
    FUZZ_CHECK(strlen(thumb) == ACME_THUMBPRINT_LEN);

    /* RFC 7638 3.2: the canonical form is a JWK with the required
     * members only; importing it gives the same key */
    cjwk = json_loads(canonical, JSON_REJECT_DUPLICATES, &err);
    FUZZ_CHECK(json_is_object(cjwk));

    memset(again, 0, sizeof(again));
    FUZZ_CHECK(acme_jwk_import(cjwk, &ckey, again, &p) == ACME_OK);
    FUZZ_CHECK(strcmp(canonical, again) == 0);
    FUZZ_CHECK(acme_pkey_equal_public(pkey, ckey) == 1);

    EVP_PKEY_free(ckey);
    json_decref(cjwk);
    EVP_PKEY_free(pkey);
    json_decref(jwk);

    ERR_clear_error();

    return 0;
}
