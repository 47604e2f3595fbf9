/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-server-admin: operator commands that need no nginx.
 *
 *   acme-server-admin migrate --database CONNINFO [--dir DIR]
 *       applies the pending sql/NNNN_*.sql migrations in order.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/acme_store_pg.h"


static void
acme_admin_usage(FILE *f)
{
    fprintf(f,
        "usage: acme-server-admin migrate --database CONNINFO [--dir DIR]\n"
        "\n"
        "  migrate   apply the schema migrations (DIR/NNNN_*.sql, default\n"
        "            \"sql\") not yet recorded in schema_migrations, each\n"
        "            in its own transaction\n"
        "\n"
        "  --database  libpq conninfo or URI (also $ACME_SERVER_DATABASE)\n");
}


static void
acme_admin_log(const char *msg)
{
    printf("acme-server-admin: %s\n", msg);
}


static int
acme_admin_migrate(int argc, char **argv)
{
    int          i, applied;
    acme_pg_t   *pg;
    const char  *db, *dir;

    db = getenv("ACME_SERVER_DATABASE");
    dir = "sql";

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--database") == 0 && i + 1 < argc) {
            db = argv[++i];

        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];

        } else {
            acme_admin_usage(stderr);
            return 2;
        }
    }

    if (db == NULL) {
        fprintf(stderr, "acme-server-admin: --database is required\n");
        return 2;
    }

    pg = acme_pg_open(db);
    if (pg == NULL) {
        fprintf(stderr, "acme-server-admin: out of memory\n");
        return 1;
    }

    if (acme_pg_migrate(pg, dir, &applied, acme_admin_log) != ACME_OK) {
        fprintf(stderr, "acme-server-admin: migrate failed: %s\n",
                acme_pg_errmsg(pg));
        acme_pg_close(pg);
        return 1;
    }

    printf("acme-server-admin: %d migration(s) applied, schema is current\n",
           applied);
    acme_pg_close(pg);

    return 0;
}


int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "--help") == 0)
    {
        acme_admin_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }

    if (strcmp(argv[1], "migrate") == 0) {
        return acme_admin_migrate(argc - 2, argv + 2);
    }

    fprintf(stderr, "acme-server-admin: unknown command \"%s\"\n", argv[1]);
    acme_admin_usage(stderr);

    return 2;
}
