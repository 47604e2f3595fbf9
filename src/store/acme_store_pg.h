/*
 * Copyright (C) nginx-acme-server authors
 *
 * PostgreSQL storage (libpq).  Every libpq call of the project is in
 * acme_store_pg.c.  All functions are blocking: call them from an nginx
 * thread-pool task or from the validator, never from an event loop.
 *
 * Every state change is one transaction whose UPDATEs are conditional on
 * the current status (RFC 8555 7.1.6), so a repeated or concurrent call
 * can move a state at most once.  Functions return ACME_OK, ACME_NOT_FOUND,
 * ACME_CONFLICT (a conditional update found the object in another state)
 * or ACME_ERROR (connection or SQL failure; the libpq message is copied to
 * the connection's err buffer for the caller to log, never to a client).
 */

#ifndef ACME_STORE_PG_H
#define ACME_STORE_PG_H

#include <time.h>
#include <stdint.h>
#include "../acme/acme_core.h"


typedef struct acme_pg_s  acme_pg_t;

#define ACME_STATUS_MAX  16

typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    char         status[ACME_STATUS_MAX];
    char        *jwk;            /* canonical JWK JSON, malloc'ed */
    char        *contact;        /* JSON array, malloc'ed */
    int          tos_agreed;
    time_t       created_at;
} acme_account_t;

typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    char         type[16];       /* "http-01", "dns-01", "tls-alpn-01" */
    char         token[ACME_TOKEN_LEN + 1];
    char         status[ACME_STATUS_MAX];
    time_t       validated;      /* 0 when not validated */
    char        *error;          /* problem JSON or NULL, malloc'ed */
} acme_chall_t;

typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    int64_t      account_id;
    char         identifier_type[8];
    char         identifier_value[ACME_DNS_NAME_MAX + 1];
    int          wildcard;
    char         status[ACME_STATUS_MAX];
    time_t       expires;
    acme_chall_t *challs;
    size_t       nchalls;
} acme_authz_t;

typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    int64_t      account_id;
    char         status[ACME_STATUS_MAX];
    time_t       expires;
    time_t       not_before;     /* 0 when absent */
    time_t       not_after;      /* 0 when absent */
    char        *identifiers;    /* JSON array of {type,value}, malloc'ed */
    char        *error;          /* problem JSON or NULL, malloc'ed */
    char       **authz_ids;      /* public ids of its authorizations */
    size_t       nauthz;
    char         cert_id[ACME_ID_LEN + 1];   /* "" until valid */
} acme_order_t;

typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    char         serial[64];     /* lowercase hex */
    int64_t      order_id;
    int64_t      account_id;
    unsigned char *der;          /* leaf DER, malloc'ed; NULL if reserved */
    size_t       der_len;
    char        *chain;          /* issuer chain PEM, malloc'ed */
    time_t       revoked_at;
} acme_cert_t;

/* a new identifier for acme_pg_order_create() */
typedef struct {
    const char  *type;           /* "dns" or "ip" */
    const char  *value;          /* normalized */
    int          wildcard;
    const char  *authz_id;       /* new public id */
    const char  *chall_ids[3];   /* new public ids, one per challenge type */
    const char  *chall_types[3]; /* NULL-terminated when fewer than 3 */
    const char  *tokens[3];
} acme_pg_new_authz_t;

/* validation job view used by the validator (RFC 8555 8) */
typedef struct {
    int64_t      chall_id;
    char         chall_public_id[ACME_ID_LEN + 1];
    char         type[16];
    char         token[ACME_TOKEN_LEN + 1];
    char         status[ACME_STATUS_MAX];
    char         identifier_type[8];
    char         identifier_value[ACME_DNS_NAME_MAX + 1];
    char         thumbprint[ACME_THUMBPRINT_LEN + 1];   /* account key */
    int64_t      authz_id;
    int          wildcard;       /* the order asked for "*.value" */
    char         account_id[ACME_ID_LEN + 1];   /* account public id */
    char         ca[256];        /* the CA (accounts.ca) */
} acme_pg_job_t;


/*
 * Connection.  acme_pg_open() connects with a libpq conninfo string or URI
 * and prepares nothing yet (statements are prepared lazily).  Returns a new
 * handle (caller frees with acme_pg_close) or NULL on allocation failure;
 * a failed connection still returns a handle whose calls fail until
 * acme_pg_ensure() reconnects it.  acme_pg_ensure() reconnects a broken
 * connection (ACME_OK / ACME_ERROR).  acme_pg_errmsg() is borrowed until
 * the next call on the handle.
 */
acme_pg_t *acme_pg_open(const char *conninfo);
int acme_pg_ensure(acme_pg_t *pg);
void acme_pg_close(acme_pg_t *pg);
const char *acme_pg_errmsg(acme_pg_t *pg);

/*
 * acme_pg_migrate() applies every sql/NNNN_*.sql in dir not yet listed in
 * schema_migrations, in name order, each in one transaction together with
 * its schema_migrations row.  *applied counts the files applied.  Messages
 * for a terminal go to log (may be NULL).
 */
int acme_pg_migrate(acme_pg_t *pg, const char *dir, int *applied,
    void (*log)(const char *msg));

/* Accounts (RFC 8555 7.3).  Strings in *a are malloc'ed; free with
 * acme_account_clear(). */
int acme_pg_account_by_thumbprint(acme_pg_t *pg, const char *ca,
    const char *thumbprint, acme_account_t *a);
int acme_pg_account_by_public_id(acme_pg_t *pg, const char *ca,
    const char *public_id, acme_account_t *a);
/* inserts; ACME_CONFLICT when the key is already registered (race) */
int acme_pg_account_create(acme_pg_t *pg, const char *ca,
    const char *public_id, const char *thumbprint, const char *jwk,
    const char *contact, int tos_agreed, acme_account_t *a);
/* contact == NULL keeps it; status == NULL keeps it (valid -> deactivated
 * only, RFC 8555 7.3.6) */
int acme_pg_account_update(acme_pg_t *pg, int64_t id, const char *contact,
    const char *status);
void acme_account_clear(acme_account_t *a);

/* RFC 8555 7.1.2.1: public ids of the account's orders that are not
 * invalid, oldest first, after the order whose public id is cursor (NULL:
 * from the first), at most limit; *ids as for acme_pg_chall_stale */
int acme_pg_account_orders(acme_pg_t *pg, int64_t account_id,
    const char *cursor, size_t limit, char ***ids, size_t *n);

/* Orders (RFC 8555 7.4): order, its authorizations and challenges in one
 * transaction.  A valid authorization of the account for the same
 * identifier with an hour or more left is linked instead of a new one
 * (RFC 8555 7.1.3); the order's expiry is capped by it, and an order whose
 * authorizations are all valid starts "ready". */
int acme_pg_order_create(acme_pg_t *pg, int64_t account_id,
    const char *public_id, time_t expires, time_t not_before,
    time_t not_after, const char *identifiers_json,
    const acme_pg_new_authz_t *authz, size_t nauthz, time_t authz_expires);
int acme_pg_order_get(acme_pg_t *pg, const char *public_id,
    acme_order_t *o);
void acme_order_clear(acme_order_t *o);

int acme_pg_authz_get(acme_pg_t *pg, const char *public_id,
    acme_authz_t *az);
void acme_authz_clear(acme_authz_t *az);

/* RFC 8555 7.5.2: pending or valid -> deactivated, and the pending or
 * ready orders using it -> invalid, in one transaction; ACME_CONFLICT in
 * any other state */
int acme_pg_authz_deactivate(acme_pg_t *pg, int64_t authz_id);

/* the challenge and its authorization (az->challs holds only it) */
int acme_pg_chall_get(acme_pg_t *pg, const char *public_id,
    acme_authz_t *az);

/* RFC 8555 7.5.1: pending -> processing, only while the authorization is
 * pending and not expired.  ACME_CONFLICT otherwise (not an error: the
 * caller answers with the current state). */
int acme_pg_chall_start(acme_pg_t *pg, int64_t chall_id, time_t now);

/* Validator side: load a job by challenge public id; record a result.
 * acme_pg_chall_result(): processing -> valid (error NULL) or invalid
 * (error = problem JSON), the authorization pending -> valid / invalid and
 * every pending order using it -> ready (all its authorizations valid) or
 * invalid, in one transaction.  ACME_CONFLICT when the challenge was no
 * longer processing (already recorded). */
int acme_pg_job_load(acme_pg_t *pg, const char *chall_public_id,
    acme_pg_job_t *job);
int acme_pg_chall_result(acme_pg_t *pg, const acme_pg_job_t *job,
    const char *error_json, const char *validation_record_json);
/* public ids of challenges in processing with updated_at older than
 * older_than seconds (re-enqueue after a lost job); *ids malloc'ed array of
 * malloc'ed strings, free with acme_pg_strv_free */
int acme_pg_chall_stale(acme_pg_t *pg, int older_than, size_t max,
    char ***ids, size_t *n);
void acme_pg_strv_free(char **v, size_t n);

/* Finalize (RFC 8555 7.4): ready -> processing and a reserved certificate
 * row with its serial in one transaction; ACME_CONFLICT when the order was
 * not ready.  Then acme_pg_finalize_finish() stores the signed leaf and
 * sets the order valid, or acme_pg_finalize_fail() sets it invalid. */
int acme_pg_finalize_begin(acme_pg_t *pg, int64_t order_id,
    int64_t account_id, const char *cert_public_id, const char *serial_hex);
int acme_pg_finalize_finish(acme_pg_t *pg, int64_t order_id,
    const char *cert_public_id, const unsigned char *der, size_t der_len,
    const char *chain_pem, time_t not_before, time_t not_after);
int acme_pg_finalize_fail(acme_pg_t *pg, int64_t order_id,
    const char *error_json);

/*
 * Recovery (DESIGN.md "State and its invariants"): orders left in
 * "processing" for more than older_than seconds (a crash between the
 * serial's reservation and storing the certificate) become invalid with a
 * serverInternal error; their reserved serials stay reserved and are never
 * signed again.  *n counts the orders failed.  Safe to run anywhere at any
 * time: finalize itself takes well under a second.
 */
int acme_pg_orders_recover(acme_pg_t *pg, int older_than, size_t *n);

int acme_pg_cert_get(acme_pg_t *pg, const char *public_id, acme_cert_t *c);
/* by serial (lowercase hex, as stored) within one CA */
int acme_pg_cert_by_serial(acme_pg_t *pg, const char *ca,
    const char *serial_hex, acme_cert_t *c);
void acme_cert_clear(acme_cert_t *c);

/* RFC 8555 7.6: records the revocation (time now, RFC 5280 reason code)
 * unless already revoked (ACME_CONFLICT) */
int acme_pg_cert_revoke(acme_pg_t *pg, int64_t cert_id, int reason);

/* 1 when the account holds valid, unexpired authorizations for every
 * (type, value) pair, else 0; ACME_ERROR on failure.  RFC 8555 7.6. */
int acme_pg_account_authorized(acme_pg_t *pg, int64_t account_id,
    const char *const *types, const char *const *values, size_t n);

/* RFC 8555 7.3.5: replaces the account key, only while its current key is
 * old_thumbprint; ACME_CONFLICT when it is not (a concurrent change) or
 * when new_thumbprint is registered to another account meanwhile */
int acme_pg_account_rekey(acme_pg_t *pg, int64_t id,
    const char *old_thumbprint, const char *new_thumbprint,
    const char *new_jwk);


#endif /* ACME_STORE_PG_H */
