/*
 * Copyright (C) nginx-acme-server authors
 *
 * Checks the contracts of the EAB store API (acme_pg_eab_get,
 * acme_pg_eab_bind and the admin side) against a live database.
 * Built and run by t/admin/test_admin.py:
 *
 *   eab_store_check CONNINFO CA OTHER_CA PREFIX ACCOUNT_A ACCOUNT_B
 *
 * ACCOUNT_A and ACCOUNT_B are accounts.id values of two accounts of CA;
 * PREFIX makes this run's kids unique.  Prints one line per failed check
 * and exits 1 when any failed.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "store/acme_store_pg.h"


static int  failures;


#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("FAILED line %d: %s\n", __LINE__, #cond);                 \
            failures++;                                                      \
        }                                                                    \
    } while (0)


int
main(int argc, char **argv)
{
    int             revoked;
    char            k1[128], k2[128], k3[128], k4[128];
    size_t          i, len;
    int64_t         a, b, bound;
    acme_pg_t      *pg;
    const char     *ca, *other;
    unsigned char   key[32], out[ACME_PG_EAB_KEY_MAX], small[8];

    if (argc != 7) {
        fprintf(stderr, "usage: eab_store_check CONNINFO CA OTHER_CA "
                        "PREFIX ACCOUNT_A ACCOUNT_B\n");
        return 2;
    }

    ca = argv[2];
    other = argv[3];
    a = strtoll(argv[5], NULL, 10);
    b = strtoll(argv[6], NULL, 10);
    snprintf(k1, sizeof(k1), "%s-1", argv[4]);
    snprintf(k2, sizeof(k2), "%s-2", argv[4]);
    snprintf(k3, sizeof(k3), "%s-3", argv[4]);
    snprintf(k4, sizeof(k4), "%s-missing", argv[4]);

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char) (i * 7 + 1);
    }

    pg = acme_pg_open(argv[1]);
    if (pg == NULL || acme_pg_ensure(pg) != ACME_OK) {
        printf("FAILED connect: %s\n", pg ? acme_pg_errmsg(pg) : "oom");
        return 1;
    }

    /* create; a kid is unique */
    CHECK(acme_pg_eab_create(pg, ca, k1, key, sizeof(key), "check")
          == ACME_OK);
    CHECK(acme_pg_eab_create(pg, ca, k1, key, sizeof(key), NULL)
          == ACME_CONFLICT);
    CHECK(acme_pg_eab_create(pg, ca, k2, key, 16, NULL) == ACME_OK);
    CHECK(acme_pg_eab_create(pg, other, k3, key, sizeof(key), NULL)
          == ACME_OK);

    /* get: the key, unbound, not revoked */
    len = sizeof(out);
    bound = -1;
    revoked = -1;
    CHECK(acme_pg_eab_get(pg, ca, k1, out, &len, &bound, &revoked)
          == ACME_OK);
    CHECK(len == sizeof(key) && memcmp(out, key, len) == 0);
    CHECK(bound == 0 && revoked == 0);

    len = sizeof(out);
    CHECK(acme_pg_eab_get(pg, ca, k2, out, &len, NULL, NULL) == ACME_OK);
    CHECK(len == 16 && memcmp(out, key, 16) == 0);

    /* another CA's kid and an unknown kid are not found */
    len = sizeof(out);
    CHECK(acme_pg_eab_get(pg, other, k1, out, &len, &bound, &revoked)
          == ACME_NOT_FOUND);
    CHECK(len == 0 && bound == 0 && revoked == 0);
    len = sizeof(out);
    CHECK(acme_pg_eab_get(pg, ca, k4, out, &len, NULL, NULL)
          == ACME_NOT_FOUND);

    /* a buffer too small is an error, not a truncated key */
    len = sizeof(small);
    CHECK(acme_pg_eab_get(pg, ca, k1, small, &len, NULL, NULL)
          == ACME_ERROR);
    CHECK(len == 0);

    /* bind: once, repeatable for the same account, never for another */
    CHECK(acme_pg_eab_bind(pg, k1, a) == ACME_OK);
    CHECK(acme_pg_eab_bind(pg, k1, a) == ACME_OK);
    CHECK(acme_pg_eab_bind(pg, k1, b) == ACME_CONFLICT);
    CHECK(acme_pg_eab_bind(pg, k4, a) == ACME_NOT_FOUND);

    len = sizeof(out);
    CHECK(acme_pg_eab_get(pg, ca, k1, out, &len, &bound, &revoked)
          == ACME_OK);
    CHECK(bound == a && revoked == 0);

    /* a key of another CA does not bind this CA's account */
    CHECK(acme_pg_eab_bind(pg, k3, a) == ACME_CONFLICT);

    /* revoked: reported by get, refused by bind, revoked once */
    CHECK(acme_pg_eab_revoke(pg, k2) == ACME_OK);
    CHECK(acme_pg_eab_revoke(pg, k2) == ACME_CONFLICT);
    CHECK(acme_pg_eab_revoke(pg, k4) == ACME_NOT_FOUND);
    CHECK(acme_pg_eab_bind(pg, k2, b) == ACME_CONFLICT);

    len = sizeof(out);
    CHECK(acme_pg_eab_get(pg, ca, k2, out, &len, &bound, &revoked)
          == ACME_OK);
    CHECK(bound == 0 && revoked == 1);

    /* a bound key that is revoked stays bound but binds no more */
    CHECK(acme_pg_eab_revoke(pg, k1) == ACME_OK);
    CHECK(acme_pg_eab_bind(pg, k1, a) == ACME_CONFLICT);

    acme_pg_close(pg);

    if (failures == 0) {
        printf("eab store: all checks passed\n");
    }

    return failures ? 1 : 0;
}
