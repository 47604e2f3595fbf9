/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: the "externalAccountBinding" member of a newAccount
 * payload (RFC 8555 7.3.4) through acme_eab_parse() and acme_eab_verify(),
 * for the fixed P-256 account key and a fixed MAC key (the seeds of
 * make_seeds.py are MACed with it).  Input: the member's JSON text.
 */

#include <stdint.h>
#include <string.h>
#include "acme/acme_eab.h"
#include "fuzz_common.h"


#define FUZZ_EAB_URL  "https://acme.test/acme/new-account"
#define FUZZ_EAB_KEY  "fuzz-eab-key-0123456789abcdef012"


static char  fuzz_canonical[ACME_JWK_CANONICAL_MAX];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_t          *jwk;
    EVP_PKEY        *pkey;
    json_error_t     err;
    acme_problem_t   p;

    jwk = json_loads(FUZZ_JWK_EC256, 0, &err);
    FUZZ_CHECK(acme_jwk_import(jwk, &pkey, fuzz_canonical, &p) == ACME_OK);
    EVP_PKEY_free(pkey);
    json_decref(jwk);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t          *eab;
    acme_eab_t       e;
    json_error_t     err;
    acme_problem_t   p;

    eab = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                     &err);
    if (eab == NULL) {
        return 0;
    }

    if (acme_eab_parse(eab, FUZZ_EAB_URL, fuzz_canonical, &e, &p)
        != ACME_OK)
    {
        FUZZ_CHECK(p.type == ACME_PROB_MALFORMED
                   || p.type == ACME_PROB_UNAUTHORIZED
                   || p.type == ACME_PROB_BAD_SIGNATURE_ALGORITHM);
        fuzz_problem_check(&p, ACME_PROB_NONE);
        acme_eab_clear(&e);
        json_decref(eab);
        return 0;
    }

    /* the parse contract (acme_eab.h) */
    FUZZ_CHECK(e.kid[0] != '\0' && strlen(e.kid) <= ACME_EAB_KID_MAX);
    FUZZ_CHECK(strcmp(e.md, "SHA256") == 0 || strcmp(e.md, "SHA384") == 0
               || strcmp(e.md, "SHA512") == 0);
    FUZZ_CHECK(e.signing_input != NULL
               && strlen(e.signing_input) == e.signing_input_len);
    FUZZ_CHECK(e.mac != NULL && json_is_object(e.jwk));

    if (acme_eab_verify(&e, (const unsigned char *) FUZZ_EAB_KEY,
                        sizeof(FUZZ_EAB_KEY) - 1, &p) != ACME_OK)
    {
        fuzz_problem_check(&p, ACME_PROB_UNAUTHORIZED);
    }

    acme_eab_clear(&e);
    json_decref(eab);

    ERR_clear_error();

    return 0;
}
