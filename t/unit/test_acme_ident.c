/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of "dns" identifier checks (src/acme/acme_ident.c,
 * RFC 8555 7.1.3, 7.1.4).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acme/acme_ident.h"


static void
test_ok(const char *in, const char *want, int want_wildcard)
{
    int             wildcard;
    char            out[ACME_DNS_NAME_MAX + 1];
    acme_problem_t  p;

    memset(&p, 0, sizeof(p));
    wildcard = -1;

    if (acme_ident_dns_normalize(in, strlen(in), out, &wildcard, &p)
        != ACME_OK)
    {
        fail_msg("\"%s\" was refused: %s", in, p.detail);
    }

    assert_string_equal(out, want);
    assert_int_equal(wildcard, want_wildcard);
}


static void
test_refused(const char *in, size_t len, const char *why)
{
    int             wildcard;
    char            out[ACME_DNS_NAME_MAX + 1];
    acme_problem_t  p;

    memset(&p, 0, sizeof(p));

    if (acme_ident_dns_normalize(in, len, out, &wildcard, &p) != ACME_ERROR)
    {
        fail_msg("%s: \"%.*s\" was accepted", why, (int) len, in);
    }

    assert_int_equal(p.type, ACME_PROB_REJECTED_IDENTIFIER);
    assert_int_equal(acme_problem_status(&p), 400);
    assert_true(p.detail[0] != '\0');
}


#define REFUSED(in, why)  test_refused(in, strlen(in), why)


/* a string of n copies of c, then tail (static buffer) */
static const char *
test_repeat(char *buf, size_t n, int c, const char *tail)
{
    memset(buf, c, n);
    strcpy(buf + n, tail);

    return buf;
}


static void
test_normalize(void **state)
{
    test_ok("example.com", "example.com", 0);
    test_ok("WWW.Example.COM", "www.example.com", 0);
    test_ok("*.example.com", "*.example.com", 1);
    test_ok("*.EXAMPLE.com", "*.example.com", 1);
    test_ok("a-b.example.com", "a-b.example.com", 0);
    test_ok("a--b.example", "a--b.example", 0);
    test_ok("1.2.3.com", "1.2.3.com", 0);
    test_ok("x.c0m", "x.c0m", 0);
}


static void
test_a_labels(void **state)
{
    /* RFC 5890: IDNs arrive as A-labels */
    test_ok("xn--bcher-kva.example", "xn--bcher-kva.example", 0);
    test_ok("XN--BCHER-KVA.example", "xn--bcher-kva.example", 0);
    test_ok("example.xn--p1ai", "example.xn--p1ai", 0);
}


static void
test_lengths(void **state)
{
    char  in[512], want[512];

    /* RFC 1035 2.3.4: labels of 63 octets, names of 253 */
    test_repeat(in, 63, 'a', ".example");
    test_ok(in, in, 0);

    test_repeat(in, 63, 'A', ".com");
    test_ok(in, test_repeat(want, 63, 'a', ".com"), 0);

    test_repeat(in, 64, 'a', ".example");
    REFUSED(in, "64-octet label");

    /* 4 * 62 + 4 dots + "a" = 253 */
    strcpy(in, "");
    strcat(in, test_repeat(want, 62, 'a', "."));
    strcat(in, test_repeat(want, 62, 'b', "."));
    strcat(in, test_repeat(want, 62, 'c', "."));
    strcat(in, test_repeat(want, 62, 'd', ".a"));
    assert_int_equal(strlen(in), 253);
    test_ok(in, in, 0);

    strcat(in, "b");
    REFUSED(in, "254 octets");

    /* the wildcard counts too */
    memmove(in + 2, in + 1, strlen(in));
    in[0] = '*';
    in[1] = '.';
    in[strlen(in) - 1] = '\0';
    assert_int_equal(strlen(in), 254);
    REFUSED(in, "254 octets with the wildcard");
}


static void
test_rejections(void **state)
{
    test_refused("", 0, "empty");
    test_refused("example.com", 0, "empty by length");
    REFUSED("example.com.", "trailing dot");
    REFUSED(".example.com", "leading dot");
    REFUSED("a..b", "empty label");
    REFUSED("a..b.example", "empty label");
    REFUSED("-a.com", "leading hyphen");
    REFUSED("a-.com", "trailing hyphen");
    REFUSED("www.a-.com", "trailing hyphen inside");
    REFUSED("www.-a.com", "leading hyphen inside");
    REFUSED("a.com-", "trailing hyphen at the end");
    REFUSED("a_b.com", "underscore");
    REFUSED("a b.com", "space");
    REFUSED("example.com:443", "port");
    REFUSED("b\xc3\xbc" "cher.example", "U-label (UTF-8)");
    REFUSED("localhost", "single label");
    REFUSED("LOCALHOST", "single label");
    REFUSED("1.2.3.4", "IPv4 literal");
    REFUSED("example.123", "all-numeric TLD");
    REFUSED("[::1]", "IPv6 literal");
    REFUSED("::1", "IPv6 literal");
    test_refused("exa\0mple.com", 12, "NUL octet");
}


static void
test_wildcards(void **state)
{
    /* RFC 8555 7.1.3: "*." only as the whole leftmost label */
    REFUSED("a.*.com", "wildcard in the middle");
    REFUSED("*a.com", "partial wildcard");
    REFUSED("a*.example.com", "partial wildcard");
    REFUSED("*.*.example.com", "two wildcards");
    REFUSED("example.*", "wildcard TLD");
    REFUSED("*", "lone wildcard");
    REFUSED("*.", "wildcard and nothing");
    REFUSED("*.com", "wildcard over a single label");
    REFUSED("*..com", "wildcard then empty label");
    REFUSED("*.1.2.3.4", "wildcard over an IPv4 literal");
}


static void
test_not_terminated(void **state)
{
    int             wildcard;
    char           *in, out[ACME_DNS_NAME_MAX + 1];
    acme_problem_t  p;

    /* (ptr, len): a buffer without NUL, only len octets are valid */
    in = malloc(11);
    assert_non_null(in);
    memcpy(in, "example.com", 11);

    assert_int_equal(acme_ident_dns_normalize(in, 11, out, &wildcard, &p),
                     ACME_OK);
    assert_string_equal(out, "example.com");

    /* a prefix of a longer string */
    assert_int_equal(acme_ident_dns_normalize("a.bc.d", 4, out, &wildcard,
                                              &p),
                     ACME_OK);
    assert_string_equal(out, "a.bc");

    free(in);
}


/*
 * Regression (src/acme/acme_ident.c:56-59): the empty-label problem prints the
 * input with "%.253s", which reads up to 253 octets or a NUL, not len
 * octets: an input that is not NUL-terminated is over-read (an
 * out-of-bounds read under valgrind/ASan for a short heap buffer, e.g.
 * from nginx's request body), and octets after the identifier leak into
 * the detail.  Expected detail "... \"a..b\" ...", actual "...
 * \"a..b.example.comXYZ\" ...".  Fixed: "%.*s" with (int) len.
 */
static void
test_detail_stays_in_bounds(void **state)
{
    int             wildcard;
    char           *in, out[ACME_DNS_NAME_MAX + 1];
    acme_problem_t  p;

    /* an exact-size heap buffer: valgrind reports the read past its end */
    in = malloc(4);
    assert_non_null(in);
    memcpy(in, "a..b", 4);
    assert_int_equal(acme_ident_dns_normalize(in, 4, out, &wildcard, &p),
                     ACME_ERROR);
    free(in);

    assert_int_equal(acme_ident_dns_normalize("a..b.example.comXYZ", 4, out,
                                              &wildcard, &p),
                     ACME_ERROR);
    assert_int_equal(p.type, ACME_PROB_REJECTED_IDENTIFIER);
    assert_non_null(strstr(p.detail, "\"a..b\""));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_a_labels),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_not_terminated),
        cmocka_unit_test(test_detail_stays_in_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
