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
    char        *eab_binding;    /* verified EAB JWS JSON or NULL */
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
    int          authz_unusable; /* an authorization expired or not valid
                                    in a ready order (RFC 8555 7.1.6) */
    long long    caa_age;        /* seconds since the oldest CAA check of
                                    its dns authorizations, by the
                                    database's clock (CA/B BR 3.2.2.8); 0
                                    when it has none; LLONG_MAX when not
                                    read (every reader but
                                    acme_pg_account_with) */
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

/* what a request's URL names, read together with its account */
typedef enum {
    ACME_PG_RES_NONE = 0,
    ACME_PG_RES_ORDER,           /* an order by public id */
    ACME_PG_RES_AUTHZ,           /* an authorization by public id */
    ACME_PG_RES_CHALL,           /* a challenge (and its authorization) */
    ACME_PG_RES_CERT             /* a certificate by public id */
} acme_pg_res_e;

/* the resource read by acme_pg_account_with(); free with
 * acme_pg_res_clear() */
typedef struct {
    acme_pg_res_e  kind;
    int            rc;           /* ACME_OK, ACME_NOT_FOUND, ACME_ERROR */
    acme_order_t   order;        /* ACME_PG_RES_ORDER */
    acme_authz_t   authz;        /* ACME_PG_RES_AUTHZ, ACME_PG_RES_CHALL */
    acme_cert_t    cert;         /* ACME_PG_RES_CERT */
} acme_pg_res_t;

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
 * Every statement on pg, now and after each reconnection, runs with the
 * generic plan of its prepared statement (SET plan_cache_mode =
 * force_generic_plan, PostgreSQL 12+): a hot statement is planned once per
 * connection instead of on every call.  PostgreSQL's default (auto) plans
 * each statement's first five calls for their parameter values and then
 * keeps doing so whenever the generic plan looks dearer, which the
 * data-modifying CTEs of this store always did: 0.66 ms of planning per
 * newOrder (bench/RESULTS.md, fourth round).  For the long-lived
 * connections of the server and the validator, whose statements are
 * written to need no parameter-specific plan (lookups by key); one-shot
 * reports such as acme_pg_audit_query() ("$1 IS NULL OR ...") want custom
 * plans, so the admin tool leaves this off.  ACME_OK, or ACME_ERROR when
 * the SET failed (the connection is dropped; acme_pg_ensure() retries).
 */
int acme_pg_generic_plans(acme_pg_t *pg);

/* 1 when the last failure on pg came from the server being away (no
 * connection, shutting down): an outage, answered 503, not a fault */
int acme_pg_outage(acme_pg_t *pg);

/* a round trip ("SELECT 1") for readiness checks: ACME_OK or ACME_ERROR */
int acme_pg_ping(acme_pg_t *pg);

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
    const char *contact, int tos_agreed, const char *eab_binding,
    acme_account_t *a);
/*
 * The account with public id public_id (as acme_pg_account_by_public_id(),
 * whose return codes it has) and, in the same statement, the resource of
 * kind with public id res_public_id, as acme_pg_order_get(),
 * acme_pg_authz_get(), acme_pg_chall_get() or acme_pg_cert_get() would
 * read it: r->rc is their return code (ACME_NOT_FOUND also when the
 * account was not found).  One round trip for a request's "kid" and the
 * object its URL names.  *r is the caller's to free with
 * acme_pg_res_clear() whatever the result; ACME_PG_RES_NONE reads only the
 * account.
 */
int acme_pg_account_with(acme_pg_t *pg, const char *ca,
    const char *public_id, acme_pg_res_e kind, const char *res_public_id,
    acme_account_t *a, acme_pg_res_t *r);
void acme_pg_res_clear(acme_pg_res_t *r);
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

/* rate-limit counts: the account's pending, unexpired authorizations;
 * its failed validations of one identifier in the last window seconds */
int acme_pg_account_pending_authz(acme_pg_t *pg, int64_t account_id,
    long long *count);
int acme_pg_account_failed_validations(acme_pg_t *pg, int64_t account_id,
    const char *type, const char *value, int window, long long *count);

/* Orders (RFC 8555 7.4): order, its authorizations and challenges and
 * its audit event in one statement (one round trip, one transaction).  A
 * valid authorization of the account for the same identifier with an hour
 * or more left, validated at most reuse_window seconds ago (0: never
 * reuse), is linked instead of a new one (RFC 8555 7.1.3); the order's
 * expiry is capped by it, and an order whose authorizations are all valid
 * starts "ready".  *o receives the order as created, as from
 * acme_pg_order_get() (free with acme_order_clear(); zeroed on error). */
int acme_pg_order_create(acme_pg_t *pg, int64_t account_id,
    const char *public_id, time_t expires, time_t not_before,
    time_t not_after, const char *identifiers_json,
    const acme_pg_new_authz_t *authz, size_t nauthz, time_t authz_expires,
    int reuse_window, acme_order_t *o);
int acme_pg_order_get(acme_pg_t *pg, const char *public_id,
    acme_order_t *o);
void acme_order_clear(acme_order_t *o);

int acme_pg_authz_get(acme_pg_t *pg, const char *public_id,
    acme_authz_t *az);
void acme_authz_clear(acme_authz_t *az);

/* RFC 8555 7.5.2: pending or valid -> deactivated, and the pending or
 * ready orders using it -> invalid, in one statement; ACME_CONFLICT in
 * any other state */
int acme_pg_authz_deactivate(acme_pg_t *pg, int64_t authz_id);

/* the challenge and its authorization (az->challs holds only it) */
int acme_pg_chall_get(acme_pg_t *pg, const char *public_id,
    acme_authz_t *az);

/* RFC 8555 7.5.1: pending -> processing, only while the authorization is
 * pending and not expired.  ACME_CONFLICT otherwise (not an error: the
 * caller answers with the current state).  Either way *az receives the
 * challenge as it is now, as from acme_pg_chall_get() (free with
 * acme_authz_clear(); zeroed on ACME_ERROR). */
int acme_pg_chall_start(acme_pg_t *pg, int64_t chall_id, time_t now,
    acme_authz_t *az);

/* Validator side: load a job by challenge public id; record a result.
 * acme_pg_chall_result(): processing -> valid (error NULL) or invalid
 * (error = problem JSON), the authorization pending -> valid / invalid and
 * every pending order using it -> ready (all its authorizations valid) or
 * invalid, with the audit event, in one statement.  ACME_CONFLICT when
 * the challenge was no longer processing (already recorded). */
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

/*
 * CAA freshness (CA/B BR 3.2.2.8: checked within 8 hours of issuance).
 * acme_pg_order_caa_stale(): public ids of the order's dns authorizations
 * whose CAA check (caa_checked_at, set when a challenge passed) is older
 * than max_age seconds; *ids as for acme_pg_chall_stale.
 * acme_pg_order_caa_state(): how many valid dns authorizations are still
 * stale, and how many are no longer valid.
 * Validator side: acme_pg_caa_job_load() loads an authorization (and the
 * challenge that validated it) as a job; acme_pg_caa_result() records a
 * fresh check (error_json NULL) or a refusal: the authorization and its
 * pending or ready orders invalid, with an audit event.
 */
int acme_pg_order_caa_stale(acme_pg_t *pg, int64_t order_id, int max_age,
    char ***ids, size_t *n);
int acme_pg_order_caa_state(acme_pg_t *pg, int64_t order_id, int max_age,
    long long *stale, long long *invalid);
int acme_pg_caa_job_load(acme_pg_t *pg, const char *authz_public_id,
    acme_pg_job_t *job);
int acme_pg_caa_result(acme_pg_t *pg, const acme_pg_job_t *job,
    const char *error_json);

/* Finalize (RFC 8555 7.4): ready -> processing and a reserved certificate
 * row with its serial in one statement; ACME_CONFLICT when the order was
 * not ready.  Then acme_pg_finalize_finish() stores the signed leaf and
 * sets the order valid (with its certificate.issued audit event, whose
 * detail is audit_detail JSON) in one statement, and *o receives the
 * order as it is then, as from acme_pg_order_get() (free with
 * acme_order_clear(); zeroed on error: ACME_ERROR also when the order had
 * left "processing", and then nothing is stored); or
 * acme_pg_finalize_fail() sets it invalid. */
int acme_pg_finalize_begin(acme_pg_t *pg, int64_t order_id,
    int64_t account_id, const char *cert_public_id, const char *serial_hex);
int acme_pg_finalize_finish(acme_pg_t *pg, int64_t order_id,
    const char *cert_public_id, const unsigned char *der, size_t der_len,
    const char *chain_pem, time_t not_before, time_t not_after,
    const char *audit_detail, acme_order_t *o);
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
int acme_pg_cert_revoke(acme_pg_t *pg, int64_t cert_id, int reason,
    const char *by);

/*
 * Audit trail (table audit_events, sql/0003).  The state changes above
 * write their own events in their transactions: account.created,
 * account.updated, account.deactivated, account.key_rolled,
 * order.created, challenge.valid, challenge.invalid,
 * authorization.deactivated, certificate.issued (audit_detail of
 * acme_pg_finalize_finish), certificate.revoked (by: who asked),
 * order.recovered.  acme_pg_audit() records an event that changes no
 * other row (e.g. a rate-limit refusal); detail_json may be NULL.
 */
int acme_pg_audit(acme_pg_t *pg, const char *ca, const char *event,
    const char *account, const char *detail_json);

/* one audit row, strings malloc'ed (NULL when absent) */
typedef struct {
    int64_t      id;
    time_t       at;
    char        *ca;
    char        *event;
    char        *account;
    char        *order_id;
    char        *serial;
    char        *identifiers;    /* JSON array text */
    char        *detail;         /* JSON object text */
} acme_pg_audit_t;

/*
 * acme_pg_audit_query(): events matching every given filter (NULL: any):
 * account public id, an identifier value appearing in the event's
 * identifiers, serial (lowercase hex), since/until (unix time, 0: open),
 * oldest first, at most max.  *v is a new array of *n, freed with
 * acme_pg_audit_free(*v, *n).
 */
int acme_pg_audit_query(acme_pg_t *pg, const char *account,
    const char *identifier, const char *serial, time_t since, time_t until,
    size_t max, acme_pg_audit_t **v, size_t *n);
void acme_pg_audit_free(acme_pg_audit_t *v, size_t n);

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


/* admin: acme-server-admin and External Account Binding keys */

/*
 * EAB keys (RFC 8555 7.3.4), table eab_keys (sql/0002_create_eab_keys.sql).
 * A key belongs to one CA (accounts.ca: the nginx location of the
 * acme_server, e.g. "/acme/"), binds at most one account, and a revoked
 * key binds none.  kids made by acme-server-admin are 16 random bytes in
 * base64url (22 characters), MAC keys 32 random bytes.
 */

#define ACME_PG_EAB_KID_MAX     128     /* longest kid stored, NUL excluded */
#define ACME_PG_EAB_KEY_MAX     64      /* always enough for acme_pg_eab_get */
#define ACME_PG_CA_NAME_MAX     256

typedef struct {
    int64_t      id;
    char         kid[ACME_PG_EAB_KID_MAX + 1];
    char         ca[ACME_PG_CA_NAME_MAX];
    char        *note;           /* malloc'ed, NULL when none */
    time_t       created_at;
    time_t       revoked_at;     /* 0 when not revoked */
    time_t       bound_at;       /* 0 when not bound */
    char         account[ACME_ID_LEN + 1];   /* bound account's public id,
                                              * "" when not bound */
} acme_pg_eab_t;

/* an account as an operator sees it (acme-server-admin account show) */
typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    char         ca[ACME_PG_CA_NAME_MAX];
    char         status[ACME_STATUS_MAX];
    char         thumbprint[ACME_THUMBPRINT_LEN + 1];
    char        *contact;        /* JSON array, malloc'ed */
    time_t       created_at;
    int64_t      orders;         /* every order, any status */
    int64_t      certs;          /* certificates issued (signed) */
    int64_t      certs_revoked;
    char         eab_kid[ACME_PG_EAB_KID_MAX + 1];  /* bound EAB key or "" */
} acme_pg_admin_account_t;

/* a certificate with its CA, account and order (cert show, expiring) */
typedef struct {
    int64_t      id;
    char         public_id[ACME_ID_LEN + 1];
    char         serial[64];     /* lowercase hex, as stored */
    char         ca[ACME_PG_CA_NAME_MAX];
    char         account[ACME_ID_LEN + 1];   /* account public id */
    char         order[ACME_ID_LEN + 1];     /* order public id */
    char        *identifiers;    /* the order's JSON array, malloc'ed */
    unsigned char *der;          /* leaf DER, malloc'ed; NULL if reserved */
    size_t       der_len;
    time_t       created_at;
    time_t       not_before;     /* 0 while reserved */
    time_t       not_after;      /* 0 while reserved */
    time_t       revoked_at;     /* 0 when not revoked */
    int          reason;         /* RFC 5280 5.3.1 code, -1 if none */
} acme_pg_admin_cert_t;

/* an order in a listing (acme-server-admin orders) */
typedef struct {
    char         public_id[ACME_ID_LEN + 1];
    char         account[ACME_ID_LEN + 1];   /* account public id */
    char         ca[ACME_PG_CA_NAME_MAX];
    char         status[ACME_STATUS_MAX];
    char        *identifiers;    /* JSON array, malloc'ed */
    time_t       created_at;
    time_t       updated_at;
    time_t       expires;
} acme_pg_admin_order_t;

/*
 * acme_pg_eab_create(): stores a new key of key_len bytes (1 to
 * ACME_PG_EAB_KEY_MAX) for the CA ca with an optional note (NULL: none).
 * ACME_OK; ACME_CONFLICT when kid exists already; ACME_ERROR.
 */
int acme_pg_eab_create(acme_pg_t *pg, const char *ca, const char *kid,
    const unsigned char *key, size_t key_len, const char *note);

/*
 * acme_pg_eab_list(): every key of the CA ca (NULL: of all CAs), oldest
 * first, without the MAC keys.  *v is a new array of *n entries (NULL when
 * none), freed with acme_pg_eab_list_free(*v, *n).
 */
int acme_pg_eab_list(acme_pg_t *pg, const char *ca, acme_pg_eab_t **v,
    size_t *n);
void acme_pg_eab_list_free(acme_pg_eab_t *v, size_t n);

/*
 * acme_pg_eab_revoke(): marks the key revoked (it binds no new account;
 * an account it bound already keeps working).  ACME_OK; ACME_NOT_FOUND
 * when no key has this kid; ACME_CONFLICT when it was revoked already.
 */
int acme_pg_eab_revoke(acme_pg_t *pg, const char *kid);

/*
 * acme_pg_eab_get(): the key kid of the CA ca, for verifying an
 * externalAccountBinding JWS (RFC 8555 7.3.4).
 *   key, *key_len  in: a caller-owned buffer and its size (ACME_PG_EAB_KEY_MAX
 *                  bytes are always enough); out: the MAC key and its
 *                  length.  Secret: wipe it (OPENSSL_cleanse) after use.
 *   *account_id    the internal id (accounts.id) of the account the key is
 *                  bound to, 0 when unbound.  May be NULL.
 *   *revoked       1 when the key was revoked, else 0.  May be NULL.
 * ACME_OK; ACME_NOT_FOUND when the CA has no key with this kid (a kid of
 * another CA is not found); ACME_ERROR on failure or when the stored key
 * is longer than the buffer.  Outputs are zero on any error.
 */
int acme_pg_eab_get(acme_pg_t *pg, const char *ca, const char *kid,
    unsigned char *key, size_t *key_len, int64_t *account_id, int *revoked);

/*
 * acme_pg_eab_bind(): binds the key kid to the account account_id
 * (accounts.id), in one conditional UPDATE: only while the key is unbound
 * and not revoked, and only to an account of the key's CA.
 * ACME_OK, also when the key is already bound to this very account and
 * not revoked (a repeated call); ACME_NOT_FOUND when no key has this kid;
 * ACME_CONFLICT when the key is bound to another account, is revoked, or
 * the account is not of the key's CA; ACME_ERROR.
 * Not in the transaction of acme_pg_account_create(): a caller that gets
 * ACME_CONFLICT after creating the account must undo or refuse it.
 */
int acme_pg_eab_bind(acme_pg_t *pg, const char *kid, int64_t account_id);

/*
 * acme_pg_admin_account_get(): the account by public id, with counts and
 * its bound EAB kid.  ACME_OK / ACME_NOT_FOUND / ACME_ERROR.  a->contact
 * is malloc'ed: free with acme_pg_admin_account_clear().
 * (Deactivation uses acme_pg_account_update(pg, a->id, NULL,
 * "deactivated"), as the server does.)
 */
int acme_pg_admin_account_get(acme_pg_t *pg, const char *public_id,
    acme_pg_admin_account_t *a);
void acme_pg_admin_account_clear(acme_pg_admin_account_t *a);

/*
 * acme_pg_admin_cert_get(): the certificate by serial (lowercase hex, as
 * stored: an even number of digits, no leading "00" pair), in any CA.
 * ACME_OK / ACME_NOT_FOUND / ACME_ERROR; free with
 * acme_pg_admin_cert_clear().  (Revocation uses acme_pg_cert_revoke().)
 */
int acme_pg_admin_cert_get(acme_pg_t *pg, const char *serial_hex,
    acme_pg_admin_cert_t *c);
void acme_pg_admin_cert_clear(acme_pg_admin_cert_t *c);

/*
 * acme_pg_admin_expiring(): signed, unrevoked certificates whose notAfter
 * is after now and at most within seconds from now, soonest first, at
 * most max.  *v is a new array of *n (NULL when none), freed with
 * acme_pg_admin_certs_free(*v, *n).
 */
int acme_pg_admin_expiring(acme_pg_t *pg, int64_t within, size_t max,
    acme_pg_admin_cert_t **v, size_t *n);
void acme_pg_admin_certs_free(acme_pg_admin_cert_t *v, size_t n);

/*
 * acme_pg_admin_orders(): orders in status (RFC 8555 7.1.6 value), least
 * recently updated first, at most max.  *v is a new array of *n (NULL when
 * none), freed with acme_pg_admin_orders_free(*v, *n).
 */
int acme_pg_admin_orders(acme_pg_t *pg, const char *status, size_t max,
    acme_pg_admin_order_t **v, size_t *n);
void acme_pg_admin_orders_free(acme_pg_admin_order_t *v, size_t n);


#endif /* ACME_STORE_PG_H */
