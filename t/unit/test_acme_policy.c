/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests: identifier policy (acme_policy.c).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "acme/acme_policy.h"


static void
test_names_allow_and_deny(void **state)
{
    acme_policy_t       pol;
    static const char  *allow[] = { "example.test", "*.corp.test" };
    static const char  *deny[] = { "bad.example.test" };

    memset(&pol, 0, sizeof(pol));

    /* no lists: everything */
    assert_int_equal(acme_policy_name_allowed(&pol, "any.thing"), 1);

    pol.allow_names = allow;
    pol.nallow_names = 2;
    pol.deny_names = deny;
    pol.ndeny_names = 1;

    assert_int_equal(acme_policy_name_allowed(&pol, "example.test"), 1);
    assert_int_equal(acme_policy_name_allowed(&pol, "www.example.test"), 1);
    assert_int_equal(acme_policy_name_allowed(&pol, "*.example.test"), 1);
    assert_int_equal(acme_policy_name_allowed(&pol, "notexample.test"), 0);
    assert_int_equal(acme_policy_name_allowed(&pol, "bad.example.test"), 0);
    assert_int_equal(acme_policy_name_allowed(&pol, "x.bad.example.test"),
                     0);
    assert_int_equal(acme_policy_name_allowed(&pol, "*.bad.example.test"),
                     0);

    /* "*.corp.test": names under it, not corp.test itself */
    assert_int_equal(acme_policy_name_allowed(&pol, "a.corp.test"), 1);
    assert_int_equal(acme_policy_name_allowed(&pol, "corp.test"), 0);
    assert_int_equal(acme_policy_name_allowed(&pol, "*.corp.test"), 1);
    assert_int_equal(acme_policy_name_allowed(&pol, "other.test"), 0);
}


static void
test_ips(void **state)
{
    acme_cidr_t    allow[2], deny[1];
    acme_policy_t  pol;

    assert_int_equal(acme_cidr_parse("127.0.0.0/8", 11, &allow[0]), ACME_OK);
    assert_int_equal(acme_cidr_parse("2001:db8::/32", 13, &allow[1]),
                     ACME_OK);
    assert_int_equal(acme_cidr_parse("127.0.0.9", 9, &deny[0]), ACME_OK);
    assert_int_equal(deny[0].bits, 32);

    assert_int_equal(acme_cidr_parse("10.0.0.1/8", 10, &deny[0]),
                     ACME_ERROR);
    assert_int_equal(acme_cidr_parse("10.0.0.0/33", 11, &deny[0]),
                     ACME_ERROR);
    assert_int_equal(acme_cidr_parse("nonsense", 8, &deny[0]), ACME_ERROR);
    assert_int_equal(acme_cidr_parse("127.0.0.9", 9, &deny[0]), ACME_OK);

    memset(&pol, 0, sizeof(pol));
    pol.allow_ips = allow;
    pol.nallow_ips = 2;
    pol.deny_ips = deny;
    pol.ndeny_ips = 1;

    assert_int_equal(acme_policy_ip_allowed(&pol, "127.0.0.1"), 1);
    assert_int_equal(acme_policy_ip_allowed(&pol, "127.0.0.9"), 0);
    assert_int_equal(acme_policy_ip_allowed(&pol, "192.0.2.1"), 0);
    assert_int_equal(acme_policy_ip_allowed(&pol, "2001:db8::5"), 1);
    assert_int_equal(acme_policy_ip_allowed(&pol, "2001:db9::5"), 0);
    assert_int_equal(acme_policy_ip_allowed(&pol, "::1"), 0);
}


static void
test_patterns(void **state)
{
    assert_true(acme_policy_pattern_ok("example.test", 12));
    assert_true(acme_policy_pattern_ok("*.example.test", 14));
    assert_true(acme_policy_pattern_ok("test", 4));
    assert_false(acme_policy_pattern_ok("", 0));
    assert_false(acme_policy_pattern_ok("a..b", 4));
    assert_false(acme_policy_pattern_ok("Example.test", 12));
    assert_false(acme_policy_pattern_ok("a.*.b", 5));
    assert_false(acme_policy_pattern_ok("a.b.", 4));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_names_allow_and_deny),
        cmocka_unit_test(test_ips),
        cmocka_unit_test(test_patterns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
