/*
 * Copyright (C) nginx-acme-server authors
 *
 * Shared by the libFuzzer targets (t/fuzz/fuzz_*.c): fixed public keys,
 * an invariant check that aborts (libFuzzer then saves the input), and the
 * problem-document invariant every failing core call must keep (STYLE.md
 * 4: a typed problem with a detail, renderable as JSON).
 *
 * The keys are those of t/fuzz/make_seeds.py, which signs the seeds with
 * their private parts, so that seeds reach the successful verify paths.
 */

#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/err.h>
#include "acme/acme_jwk.h"
#include "acme/acme_problem.h"


/* RFC 7515 A.3.1 */
#define FUZZ_JWK_EC256                                                       \
    "{\"kty\":\"EC\",\"crv\":\"P-256\","                                     \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","                 \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"

/* RFC 8037 A.2 */
#define FUZZ_JWK_ED25519                                                     \
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","                                  \
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"

/* make_seeds.py RSA2048 (make_seeds.py --keys) */
#define FUZZ_JWK_RSA2048                                                     \
    "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\""                               \
    "qy4-fa6nqc5rcujWfuR4sinHSdDwwY_SqflIk05QCWAH8b7NqPqiHkxdifmIUsRGGE_d"   \
    "MNonF61u2vWW1O_ZjpmY5fWq9dJEXu9VK0s9Co-fEWxhwXd-eIjXve0Jg1q1F8BZnawL"   \
    "MXsyowNu8m7D6B9KlmFmT4N1a-KtvaJg-8IJNsiYNFkqCgeAc3tQ7ZPk3teewYHPtLmp"   \
    "7J5XkSfdqCD1DFLrp3i9qCfGjcuZl4HfFSxvs72S4cxB-QtPgrcWPZjAIur8l2P-xP1p"   \
    "6ozuqm6IM8eRYqlmBXRo0YOLNZpWEDIsnhnJ4qLy0xrrjIXV8DaJCyNNNnLDZ3-wTAa9"   \
    "eQ\"}"


/* an invariant of the API contract: abort, so that libFuzzer keeps the
 * input as a crash artifact */
#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)


static inline EVP_PKEY *
fuzz_key(const char *text)
{
    json_t          *jwk;
    EVP_PKEY        *pkey;
    json_error_t     err;
    acme_problem_t   p;

    jwk = json_loads(text, 0, &err);
    FUZZ_CHECK(jwk != NULL);

    FUZZ_CHECK(acme_jwk_import(jwk, &pkey, NULL, &p) == ACME_OK);
    json_decref(jwk);

    return pkey;
}


/*
 * A failing core call left a problem of a known type with a non-empty,
 * printable detail, and acme_problem_json() renders it as a JSON object
 * whose "type" is the URN and "detail" the detail.
 */
static inline void
fuzz_problem_check(const acme_problem_t *p, acme_prob_e expect)
{
    char          *s;
    json_t        *o;
    const char    *c;
    json_error_t   err;

    FUZZ_CHECK(p->type > ACME_PROB_NONE && p->type < ACME_PROB_MAX);
    FUZZ_CHECK(expect == ACME_PROB_NONE || p->type == expect);
    FUZZ_CHECK(memchr(p->detail, '\0', sizeof(p->detail)) != NULL);
    FUZZ_CHECK(p->detail[0] != '\0');

    for (c = p->detail; *c; c++) {
        FUZZ_CHECK(*c >= 0x20 && *c <= 0x7e);
    }

    s = acme_problem_json(p);
    FUZZ_CHECK(s != NULL);

    o = json_loads(s, JSON_REJECT_DUPLICATES, &err);
    FUZZ_CHECK(json_is_object(o));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(o, "type")),
                      acme_problem_urn(p->type)) == 0);
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(o, "detail")),
                      p->detail) == 0);

    json_decref(o);
    free(s);

    /* the core must not leave errors for the next request to trip on */
    ERR_clear_error();
}


#endif /* FUZZ_COMMON_H */
