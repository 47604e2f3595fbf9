/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: a request body through acme_jws_parse(), then
 * acme_jws_verify() against fixed P-256, RSA and Ed25519 keys and, when
 * the header carries one, the imported "jwk" with its thumbprint (the
 * path of newAccount, RFC 8555 6.2 and 7.3).  Input: the body, as a
 * client sends it.
 */

#include <stdint.h>
#include <string.h>
#include "acme/acme_base64url.h"
#include "acme/acme_jws.h"
#include "fuzz_common.h"


static EVP_PKEY  *fuzz_keys[3];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_keys[0] = fuzz_key(FUZZ_JWK_EC256);
    fuzz_keys[1] = fuzz_key(FUZZ_JWK_RSA2048);
    fuzz_keys[2] = fuzz_key(FUZZ_JWK_ED25519);

    return 0;
}


static void
fuzz_jws_verify(const acme_jws_t *jws, EVP_PKEY *key)
{
    acme_problem_t  p;

    if (acme_jws_verify(jws, key, &p) != ACME_OK) {
        FUZZ_CHECK(p.type == ACME_PROB_MALFORMED
                   || p.type == ACME_PROB_BAD_SIGNATURE_ALGORITHM
                   || p.type == ACME_PROB_SERVER_INTERNAL);
        fuzz_problem_check(&p, ACME_PROB_NONE);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            canonical[ACME_JWK_CANONICAL_MAX];
    char            thumb[ACME_THUMBPRINT_LEN + 1];
    size_t          i;
    EVP_PKEY       *pkey;
    acme_jws_t      jws;
    acme_problem_t  p;

    if (acme_jws_parse(&jws, (const char *) data, size, &p) != ACME_OK) {
        FUZZ_CHECK(jws.signing_input == NULL);
        FUZZ_CHECK(p.type == ACME_PROB_MALFORMED
                   || p.type == ACME_PROB_BAD_SIGNATURE_ALGORITHM
                   || p.type == ACME_PROB_SERVER_INTERNAL);
        fuzz_problem_check(&p, ACME_PROB_NONE);
        acme_jws_clear(&jws);
        return 0;
    }

    /* the parse contract (acme_jws.h) */
    FUZZ_CHECK(jws.protected_hdr != NULL && jws.alg != NULL);
    FUZZ_CHECK((jws.jwk == NULL) != (jws.kid == NULL));
    FUZZ_CHECK(jws.jwk == NULL || json_is_object(jws.jwk));
    FUZZ_CHECK(jws.payload != NULL && jws.payload[jws.payload_len] == '\0');
    FUZZ_CHECK(jws.sig != NULL);
    FUZZ_CHECK(jws.signing_input[jws.signing_input_len] == '\0');
    FUZZ_CHECK(strlen(jws.signing_input) == jws.signing_input_len);
    FUZZ_CHECK(memchr(jws.signing_input, '.', jws.signing_input_len)
               != NULL);

    for (i = 0; i < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); i++) {
        fuzz_jws_verify(&jws, fuzz_keys[i]);
    }

    if (jws.jwk) {
        if (acme_jwk_import(jws.jwk, &pkey, canonical, &p) == ACME_OK) {
            FUZZ_CHECK(pkey != NULL);
            FUZZ_CHECK(acme_jwk_thumbprint(canonical, strlen(canonical),
                                           thumb) == ACME_OK);
            FUZZ_CHECK(strlen(thumb) == ACME_THUMBPRINT_LEN);
            fuzz_jws_verify(&jws, pkey);
            EVP_PKEY_free(pkey);

        } else {
            FUZZ_CHECK(pkey == NULL);
            fuzz_problem_check(&p, ACME_PROB_NONE);
        }
    }

    acme_jws_clear(&jws);
    FUZZ_CHECK(jws.protected_hdr == NULL && jws.payload == NULL);

    ERR_clear_error();

    return 0;
}
