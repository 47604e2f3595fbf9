/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of problem documents (src/acme/acme_problem.c, RFC 8555 6.7,
 * RFC 7807).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "acme/acme_problem.h"
#include "acme/acme_jws.h"


typedef struct {
    acme_prob_e   type;
    const char   *name;
    int           status;
} test_problem_t;


#define T(type, name, status)  { ACME_PROB_##type, name, status }

/* RFC 8555 6.7 table; statuses as RFC 8555 7 uses them */
static const test_problem_t  test_problems[] = {
    T(ACCOUNT_DOES_NOT_EXIST, "accountDoesNotExist", 400),
    T(ALREADY_REVOKED, "alreadyRevoked", 400),
    T(BAD_CSR, "badCSR", 400),
    T(BAD_NONCE, "badNonce", 400),
    T(BAD_PUBLIC_KEY, "badPublicKey", 400),
    T(BAD_REVOCATION_REASON, "badRevocationReason", 400),
    T(BAD_SIGNATURE_ALGORITHM, "badSignatureAlgorithm", 400),
    T(CAA, "caa", 403),
    T(COMPOUND, "compound", 400),
    T(CONNECTION, "connection", 400),
    T(DNS, "dns", 400),
    T(EXTERNAL_ACCOUNT_REQUIRED, "externalAccountRequired", 400),
    T(INCORRECT_RESPONSE, "incorrectResponse", 400),
    T(INVALID_CONTACT, "invalidContact", 400),
    T(MALFORMED, "malformed", 400),
    T(ORDER_NOT_READY, "orderNotReady", 403),
    T(RATE_LIMITED, "rateLimited", 429),
    T(REJECTED_IDENTIFIER, "rejectedIdentifier", 400),
    T(SERVER_INTERNAL, "serverInternal", 500),
    T(TLS, "tls", 400),
    T(UNAUTHORIZED, "unauthorized", 403),
    T(UNSUPPORTED_CONTACT, "unsupportedContact", 400),
    T(UNSUPPORTED_IDENTIFIER, "unsupportedIdentifier", 400),
    T(USER_ACTION_REQUIRED, "userActionRequired", 403),
};

#define TEST_NPROBLEMS  (sizeof(test_problems) / sizeof(test_problems[0]))


/* the problem's JSON, parsed back (new reference) */
static json_t *
test_json(const acme_problem_t *p)
{
    char          *s;
    json_t        *o;
    json_error_t   err;

    s = acme_problem_json(p);
    assert_non_null(s);

    o = json_loads(s, JSON_REJECT_DUPLICATES, &err);
    if (o == NULL) {
        fail_msg("not JSON: %s: %s", err.text, s);
    }

    free(s);

    assert_true(json_is_object(o));

    return o;
}


static void
test_urns(void **state)
{
    char    urn[128];
    size_t  i;

    /* every type but NONE is in the table, once */
    assert_int_equal(TEST_NPROBLEMS, ACME_PROB_MAX - 1);

    for (i = 0; i < TEST_NPROBLEMS; i++) {
        snprintf(urn, sizeof(urn), "urn:ietf:params:acme:error:%s",
                 test_problems[i].name);
        assert_string_equal(acme_problem_urn(test_problems[i].type), urn);
    }

    /* out of range: a generic internal error, never a crash */
    assert_string_equal(acme_problem_urn(ACME_PROB_MAX),
                        "urn:ietf:params:acme:error:serverInternal");
    assert_string_equal(acme_problem_urn((acme_prob_e) -1),
                        "urn:ietf:params:acme:error:serverInternal");
}


static void
test_default_status(void **state)
{
    size_t  i;

    assert_int_equal(acme_problem_default_status(ACME_PROB_BAD_NONCE), 400);
    assert_int_equal(acme_problem_default_status(ACME_PROB_UNAUTHORIZED),
                     403);
    assert_int_equal(acme_problem_default_status(ACME_PROB_ORDER_NOT_READY),
                     403);
    assert_int_equal(acme_problem_default_status(ACME_PROB_RATE_LIMITED),
                     429);
    assert_int_equal(acme_problem_default_status(ACME_PROB_SERVER_INTERNAL),
                     500);

    for (i = 0; i < TEST_NPROBLEMS; i++) {
        if (acme_problem_default_status(test_problems[i].type)
            != test_problems[i].status)
        {
            fail_msg("%s: status %d, not %d", test_problems[i].name,
                     acme_problem_default_status(test_problems[i].type),
                     test_problems[i].status);
        }
    }

    assert_int_equal(acme_problem_default_status(ACME_PROB_MAX), 500);
}


static void
test_set(void **state)
{
    int             rc;
    acme_problem_t  p;

    memset(&p, 0xff, sizeof(p));

    rc = acme_problem_set(&p, ACME_PROB_BAD_NONCE, "nonce %s is %d s old",
                          "abc", 42);
    assert_int_equal(rc, ACME_ERROR);
    assert_int_equal(p.type, ACME_PROB_BAD_NONCE);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.detail, "nonce abc is 42 s old");
    assert_int_equal(acme_problem_status(&p), 400);

    /* an out-of-range type is stored as serverInternal */
    acme_problem_set(&p, ACME_PROB_MAX, "x");
    assert_int_equal(p.type, ACME_PROB_SERVER_INTERNAL);
    assert_int_equal(acme_problem_status(&p), 500);
}


static void
test_status_override(void **state)
{
    int             rc;
    acme_problem_t  p;

    rc = acme_problem_set_status(&p, ACME_PROB_MALFORMED, 405,
                                 "method %s not allowed", "PUT");
    assert_int_equal(rc, ACME_ERROR);
    assert_int_equal(p.type, ACME_PROB_MALFORMED);
    assert_int_equal(p.status, 405);
    assert_int_equal(acme_problem_status(&p), 405);
    assert_string_equal(p.detail, "method PUT not allowed");

    /* 0 falls back to the type's default */
    acme_problem_set_status(&p, ACME_PROB_RATE_LIMITED, 0, "slow down");
    assert_int_equal(acme_problem_status(&p), 429);

    /* acme_problem_set() resets an earlier override */
    acme_problem_set_status(&p, ACME_PROB_MALFORMED, 413, "too large");
    acme_problem_set(&p, ACME_PROB_MALFORMED, "bad");
    assert_int_equal(acme_problem_status(&p), 400);
}


static void
test_json_render(void **state)
{
    json_t          *o;
    acme_problem_t   p;

    acme_problem_set(&p, ACME_PROB_UNAUTHORIZED, "account \"%s\" is %s",
                     "a1", "deactivated");

    o = test_json(&p);

    assert_string_equal(json_string_value(json_object_get(o, "type")),
                        "urn:ietf:params:acme:error:unauthorized");
    assert_string_equal(json_string_value(json_object_get(o, "detail")),
                        "account \"a1\" is deactivated");
    assert_true(json_is_integer(json_object_get(o, "status")));
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 403);
    assert_null(json_object_get(o, "algorithms"));
    assert_int_equal(json_object_size(o), 3);

    json_decref(o);

    /* the override is what is rendered */
    acme_problem_set_status(&p, ACME_PROB_MALFORMED, 415, "content type");
    o = test_json(&p);
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 415);
    json_decref(o);
}


static void
test_json_algorithms(void **state)
{
    size_t           i, n;
    json_t          *o, *algs;
    acme_problem_t   p;

    acme_problem_set(&p, ACME_PROB_BAD_SIGNATURE_ALGORITHM,
                     "JWS algorithm \"%s\" is not supported", "HS256");

    o = test_json(&p);

    /* RFC 8555 6.2: the accepted algorithms, as the JWS code has them */
    algs = json_object_get(o, "algorithms");
    assert_true(json_is_array(algs));

    for (n = 0; acme_jws_algorithms[n]; n++) { /* void */ }

    assert_int_equal(json_array_size(algs), n);
    assert_true(n >= 4);

    for (i = 0; i < n; i++) {
        assert_string_equal(json_string_value(json_array_get(algs, i)),
                            acme_jws_algorithms[i]);
        assert_string_not_equal(acme_jws_algorithms[i], "none");
        assert_true(strncmp(acme_jws_algorithms[i], "HS", 2) != 0);
    }

    json_decref(o);
}


static void
test_detail_truncation(void **state)
{
    char                 *long_arg;
    json_t               *o;
    const char           *detail;
    struct {
        acme_problem_t    p;
        unsigned char     guard[64];
    }                     t;

    long_arg = malloc(4 * ACME_PROBLEM_DETAIL_MAX);
    assert_non_null(long_arg);
    memset(long_arg, 'x', 4 * ACME_PROBLEM_DETAIL_MAX - 1);
    long_arg[4 * ACME_PROBLEM_DETAIL_MAX - 1] = '\0';

    memset(t.guard, 0xa5, sizeof(t.guard));

    acme_problem_set(&t.p, ACME_PROB_MALFORMED, "value %s", long_arg);

    /* truncated to fit, NUL-terminated, nothing written past detail[] */
    assert_int_equal(strlen(t.p.detail), ACME_PROBLEM_DETAIL_MAX - 1);
    assert_memory_equal(t.p.detail, "value xxx", 9);
    assert_int_equal(t.guard[0], 0xa5);
    assert_int_equal(t.guard[sizeof(t.guard) - 1], 0xa5);

    o = test_json(&t.p);
    detail = json_string_value(json_object_get(o, "detail"));
    assert_non_null(detail);
    assert_int_equal(strlen(detail), ACME_PROBLEM_DETAIL_MAX - 1);
    json_decref(o);

    /* exactly fitting */
    long_arg[ACME_PROBLEM_DETAIL_MAX - 1] = '\0';
    acme_problem_set(&t.p, ACME_PROB_MALFORMED, "%s", long_arg);
    assert_int_equal(strlen(t.p.detail), ACME_PROBLEM_DETAIL_MAX - 1);

    free(long_arg);
}


/*
 * Regression (f6a28b5): json_pack() refuses a "detail" that is not UTF-8,
 * so acme_problem_json() returned NULL for a detail cut inside a UTF-8
 * sequence by the truncation, or quoting client octets (acme_ident.c's
 * identifier, acme_csr.c's SAN dNSName).  Details are now kept printable
 * ASCII.
 */
static void
test_detail_not_utf8(void **state)
{
    char            *arg, *s;
    json_t          *o;
    const char      *detail;
    acme_problem_t   p;

    /* 510 'a' then U+00FC (2 octets): truncation keeps only 0xc3 */
    arg = malloc(ACME_PROBLEM_DETAIL_MAX + 1);
    assert_non_null(arg);
    memset(arg, 'a', ACME_PROBLEM_DETAIL_MAX - 2);
    strcpy(arg + ACME_PROBLEM_DETAIL_MAX - 2, "\xc3\xbc");

    acme_problem_set(&p, ACME_PROB_MALFORMED, "%s", arg);
    assert_int_equal(strlen(p.detail), ACME_PROBLEM_DETAIL_MAX - 1);

    s = acme_problem_json(&p);
    assert_non_null(s);
    free(s);
    free(arg);

    /* client octets and control characters echoed into a detail */
    acme_problem_set(&p, ACME_PROB_REJECTED_IDENTIFIER,
                     "dns identifier \"%s\" is bad", "..\xff\n\x01");

    o = test_json(&p);
    detail = json_string_value(json_object_get(o, "detail"));
    assert_non_null(detail);
    assert_int_equal(strlen(detail), strlen(p.detail));

    for (s = (char *) detail; *s; s++) {
        assert_true(*s >= 0x20 && *s <= 0x7e);
    }

    json_decref(o);
}


/* RFC 8555 6.7.1: subproblems, each with its identifier; a new
 * acme_problem_set() starts without them */
static void
test_subproblems(void **state)
{
    char            *s;
    json_t          *o, *subs;
    acme_problem_t   p, e;

    acme_problem_set(&e, ACME_PROB_REJECTED_IDENTIFIER, "bad name");
    acme_problem_set(&p, ACME_PROB_COMPOUND, "two");
    acme_problem_add_sub(&p, &e, "dns", "a..b");
    acme_problem_set(&e, ACME_PROB_UNSUPPORTED_IDENTIFIER, "no email");
    acme_problem_add_sub(&p, &e, "email", "x\x01y");

    s = acme_problem_json(&p);
    assert_non_null(s);
    o = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(o);

    subs = json_object_get(o, "subproblems");
    assert_int_equal(json_array_size(subs), 2);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(json_array_get(subs, 0), "identifier"), "value")),
        "a..b");
    assert_string_equal(json_string_value(json_object_get(
        json_array_get(subs, 1), "type")),
        "urn:ietf:params:acme:error:unsupportedIdentifier");
    /* control characters are replaced, so JSON rendering cannot fail */
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(json_array_get(subs, 1), "identifier"), "value")),
        "x?y");
    json_decref(o);

    acme_problem_set(&p, ACME_PROB_MALFORMED, "again");
    assert_int_equal(p.nsub, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_subproblems),
        cmocka_unit_test(test_urns),
        cmocka_unit_test(test_default_status),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_status_override),
        cmocka_unit_test(test_json_render),
        cmocka_unit_test(test_json_algorithms),
        cmocka_unit_test(test_detail_truncation),
        cmocka_unit_test(test_detail_not_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
