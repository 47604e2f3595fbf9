/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: acme_problem_set_status() and acme_problem_json()
 * (RFC 8555 6.7, RFC 7807) with any type value, any status and any detail
 * octets, as a detail quoting client input gets them.  Input: 4 octets
 * type, 4 octets status (little-endian), then the detail.  The rendering
 * must always be a JSON object with the type's URN, the status sent and
 * the detail truncated to fit and made printable.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "acme/acme_jws.h"
#include "acme/acme_problem.h"
#include "fuzz_common.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              type, status, expect;
    char            *s, *detail;
    size_t           i, n;
    json_t          *o, *v;
    json_error_t     err;
    acme_problem_t   p;

    if (size < 8) {
        return 0;
    }

    memcpy(&type, data, 4);
    memcpy(&status, data + 4, 4);

    detail = malloc(size - 8 + 1);
    FUZZ_CHECK(detail != NULL);
    memcpy(detail, data + 8, size - 8);
    detail[size - 8] = '\0';

    memset(&p, 0xa5, sizeof(p));
    FUZZ_CHECK(acme_problem_set_status(&p, (acme_prob_e) type, status,
                                       "%s", detail) == ACME_ERROR);

    /* an unknown type is served as serverInternal */
    FUZZ_CHECK((unsigned) p.type < ACME_PROB_MAX);
    FUZZ_CHECK((unsigned) type >= ACME_PROB_MAX || (int) p.type == type);

    s = acme_problem_json(&p);
    FUZZ_CHECK(s != NULL);

    o = json_loads(s, JSON_REJECT_DUPLICATES, &err);
    FUZZ_CHECK(json_is_object(o));

    v = json_object_get(o, "type");
    FUZZ_CHECK(json_is_string(v));
    FUZZ_CHECK(strncmp(json_string_value(v), "urn:ietf:params:acme:error:",
                       27) == 0);
    FUZZ_CHECK(strcmp(json_string_value(v), acme_problem_urn(p.type)) == 0);

    expect = status ? status : acme_problem_default_status(p.type);
    v = json_object_get(o, "status");
    FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == expect);

    /* the detail: a prefix of the input, non-printables replaced */
    v = json_object_get(o, "detail");
    FUZZ_CHECK(json_is_string(v));
    n = json_string_length(v);
    FUZZ_CHECK(n < ACME_PROBLEM_DETAIL_MAX && n <= strlen(detail));
    FUZZ_CHECK(n == strlen(detail) || n == ACME_PROBLEM_DETAIL_MAX - 1);

    for (i = 0; i < n; i++) {
        if ((unsigned char) detail[i] >= 0x20
            && (unsigned char) detail[i] <= 0x7e)
        {
            FUZZ_CHECK(json_string_value(v)[i] == detail[i]);

        } else {
            FUZZ_CHECK(json_string_value(v)[i] == '?');
        }
    }

    /* RFC 8555 6.2: badSignatureAlgorithm lists the algorithms */
    v = json_object_get(o, "algorithms");
    FUZZ_CHECK((p.type == ACME_PROB_BAD_SIGNATURE_ALGORITHM)
               == json_is_array(v));
    FUZZ_CHECK(v == NULL || json_array_size(v) >= 1);

    FUZZ_CHECK(json_object_size(o) == (v ? 4u : 3u));

    json_decref(o);
    free(s);
    free(detail);

    return 0;
}
