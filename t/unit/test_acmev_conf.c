/*
 * Copyright (C) nginx-acme-server authors
 *
 * Unit tests of the validator's configuration parser (cmocka).  The unit
 * rule links only libacme.a, so the code under test is compiled in here.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../validator/acmev_log.c"
#include "../../validator/acmev_conf.c"


#define S(text)  text, sizeof(text) - 1


static acmev_conf_t *
parse_ok(const char *text, size_t len)
{
    char           err[ACMEV_CONF_ERR_MAX];
    acmev_conf_t  *conf;

    conf = acmev_conf_new();
    assert_non_null(conf);

    err[0] = '\0';
    if (acmev_conf_parse(conf, text, len, "t", err, sizeof(err)) != ACMEV_OK
        || acmev_conf_check(conf, err, sizeof(err)) != ACMEV_OK)
    {
        fail_msg("unexpected error: %s", err);
    }

    return conf;
}


static void
parse_fails(const char *text, size_t len, const char *want)
{
    int            rc;
    char           err[ACMEV_CONF_ERR_MAX];
    acmev_conf_t  *conf;

    conf = acmev_conf_new();
    assert_non_null(conf);

    err[0] = '\0';
    rc = acmev_conf_parse(conf, text, len, "t", err, sizeof(err));
    if (rc == ACMEV_OK) {
        rc = acmev_conf_check(conf, err, sizeof(err));
    }

    assert_int_equal(rc, ACMEV_EINVAL);

    if (strstr(err, want) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    }

    acmev_conf_free(conf);
}


static void
test_defaults(void **state)
{
    acmev_conf_t  *conf;

    conf = parse_ok(S("database = dbname=acme\nresolver = 127.0.0.1\n"));

    assert_string_equal(conf->database, "dbname=acme");
    assert_string_equal(conf->redis_host, "127.0.0.1");
    assert_int_equal(conf->redis_port, 6379);
    assert_int_equal(conf->http01_port, 80);
    assert_int_equal(conf->allow_private, 0);
    assert_int_equal(conf->workers, 4);
    assert_int_equal(conf->timeout, 10);
    assert_int_equal(conf->log_level, LOG_NOTICE);
    assert_int_equal(conf->reclaim_idle, 60);
    assert_non_null(conf->consumer);
    assert_non_null(strchr(conf->consumer, '-'));

    assert_int_equal(conf->nresolvers, 1);
    assert_int_equal(conf->resolvers[0].family, AF_INET);
    assert_string_equal(conf->resolvers[0].addr, "127.0.0.1");
    assert_int_equal(conf->resolvers[0].port, 53);

    acmev_conf_free(conf);
}


static void
test_all_options(void **state)
{
    acmev_conf_t  *conf;

    conf = parse_ok(S(
        "# validator for the tests\n"
        "\n"
        "   database = \"host=/tmp/pg dbname=acme password=a#b\"\n"
        "redis=/tmp/redis.sock\r\n"
        "resolver = 127.0.0.1:15353\n"
        "resolver = ::1\n"
        "resolver = [::1]:5353\n"
        "http01_port = 5002\n"
        "allow_private_addresses = yes\n"
        "workers = 2\n"
        "timeout = 3\n"
        "log_level = debug\n"
        "consumer = v1\n"
        "reclaim_idle = 30"));

    assert_string_equal(conf->database,
                        "host=/tmp/pg dbname=acme password=a#b");
    assert_string_equal(conf->redis_host, "/tmp/redis.sock");
    assert_int_equal(conf->redis_port, 0);
    assert_int_equal(conf->nresolvers, 3);
    assert_string_equal(conf->resolvers[0].addr, "127.0.0.1");
    assert_int_equal(conf->resolvers[0].port, 15353);
    assert_int_equal(conf->resolvers[1].family, AF_INET6);
    assert_string_equal(conf->resolvers[1].addr, "::1");
    assert_int_equal(conf->resolvers[1].port, 53);
    assert_string_equal(conf->resolvers[2].addr, "::1");
    assert_int_equal(conf->resolvers[2].port, 5353);
    assert_int_equal(conf->http01_port, 5002);
    assert_int_equal(conf->allow_private, 1);
    assert_int_equal(conf->workers, 2);
    assert_int_equal(conf->timeout, 3);
    assert_int_equal(conf->log_level, LOG_DEBUG);
    assert_string_equal(conf->consumer, "v1");
    assert_int_equal(conf->reclaim_idle, 30);

    acmev_conf_free(conf);
}


static void
test_redis_forms(void **state)
{
    acmev_conf_t  *conf;

    conf = parse_ok(S("database = x\nresolver = 192.0.2.1\n"
                      "redis = [::1]:6380\n"));
    assert_string_equal(conf->redis_host, "::1");
    assert_int_equal(conf->redis_port, 6380);
    acmev_conf_free(conf);

    conf = parse_ok(S("database = x\nresolver = 192.0.2.1\n"
                      "redis = redis.internal\n"));
    assert_string_equal(conf->redis_host, "redis.internal");
    assert_int_equal(conf->redis_port, 6379);
    acmev_conf_free(conf);

    parse_fails(S("database = x\nresolver = 192.0.2.1\nredis = ::1:6379\n"),
                "\"redis\" must be");
    parse_fails(S("database = x\nresolver = 192.0.2.1\nredis = h:0\n"),
                "\"redis\" must be");
}


static void
test_errors(void **state)
{
    parse_fails(S("resolver = 127.0.0.1\n"), "\"database\" is required");
    parse_fails(S("database = x\n"), "\"resolver\" is required");
    parse_fails(S("database = x\nbogus = 1\n"), "t:2: unknown option");
    parse_fails(S("database = x\ndatabase = y\n"), "t:2: duplicate option");
    parse_fails(S("database = x\njust words\n"), "t:2: expected");
    parse_fails(S("database =\n"), "t:1: empty value");
    parse_fails(S("workers = 0\n"), "from 1 to 256");
    parse_fails(S("workers = 4x\n"), "from 1 to 256");
    parse_fails(S("timeout = 99999999999999999999\n"), "from 1 to 300");
    parse_fails(S("allow_private_addresses = maybe\n"), "yes or no");
    parse_fails(S("log_level = loud\n"), "error, warn");
    parse_fails(S("resolver = resolver.example\n"), "\"resolver\" must");
    parse_fails(S("resolver = 127.0.0.1:0\n"), "\"resolver\" must");
    parse_fails(S("resolver = [::1\n"), "\"resolver\" must");
    parse_fails(S("resolver = 1.1.1.1\nresolver = 1.1.1.2\n"
                  "resolver = 1.1.1.3\nresolver = 1.1.1.4\n"
                  "resolver = 1.1.1.5\nresolver = 1.1.1.6\n"
                  "resolver = 1.1.1.7\nresolver = 1.1.1.8\n"
                  "resolver = 1.1.1.9\n"), "t:9: more than 8");
    parse_fails(S("database = a\0b\n"), "t:1: NUL byte");
}


static void
test_reload_keeps_fixed_options(void **state)
{
    acmev_conf_t  *cur, *next;

    cur = parse_ok(S("database = old\nresolver = 127.0.0.1\nworkers = 2\n"
                     "consumer = c1\ntimeout = 5\n"));
    next = parse_ok(S("database = new\nresolver = ::1\nworkers = 8\n"
                      "redis = 10.0.0.1:7000\ntimeout = 7\n"
                      "log_level = info\n"));

    assert_int_equal(acmev_conf_reload(next, cur), ACMEV_OK);

    /* fixed until restart */
    assert_string_equal(next->database, "old");
    assert_string_equal(next->redis, "127.0.0.1:6379");
    assert_string_equal(next->redis_host, "127.0.0.1");
    assert_int_equal(next->redis_port, 6379);
    assert_int_equal(next->workers, 2);
    assert_string_equal(next->consumer, "c1");

    /* reloaded */
    assert_string_equal(next->resolvers[0].addr, "::1");
    assert_int_equal(next->timeout, 7);
    assert_int_equal(next->log_level, LOG_INFO);

    acmev_conf_free(cur);
    acmev_conf_free(next);
}


static void
test_publish_acquire_release(void **state)
{
    acmev_conf_t  *a, *b, *got;

    a = parse_ok(S("database = a\nresolver = 127.0.0.1\n"));
    b = parse_ok(S("database = b\nresolver = 127.0.0.1\n"));

    acmev_conf_publish(a);
    got = acmev_conf_acquire();
    assert_ptr_equal(got, a);

    /* a stays alive while held, although b replaced it */
    acmev_conf_publish(b);
    assert_string_equal(got->database, "a");
    assert_ptr_equal(acmev_conf_current, b);
    acmev_conf_release(got);

    acmev_conf_publish(NULL);
    assert_null(acmev_conf_acquire());
}


static void
test_usage_lists_every_option(void **state)
{
    char    *buf;
    FILE    *f;
    size_t   i, len;

    f = open_memstream(&buf, &len);
    assert_non_null(f);
    acmev_conf_usage(f);
    fclose(f);

    for (i = 0; i < ACMEV_NOPTS; i++) {
        assert_non_null(strstr(buf, acmev_opts[i].name));
    }

    free(buf);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_options),
        cmocka_unit_test(test_redis_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reload_keeps_fixed_options),
        cmocka_unit_test(test_publish_acquire_release),
        cmocka_unit_test(test_usage_lists_every_option),
    };

    /* the reload test logs warnings: keep the output readable */
    acmev_log_init(0, "test", LOG_ERR);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
