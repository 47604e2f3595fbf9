/*
 * Copyright (C) nginx-acme-server authors
 *
 * ACME resources (RFC 8555 7) over the core, storage and signer.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "../acme/acme_base64url.h"
#include "../acme/acme_csr.h"
#include "../acme/acme_eab.h"
#include "../acme/acme_ident.h"
#include "../acme/acme_jwk.h"
#include "../acme/acme_jws.h"
#include "../acme/acme_problem.h"
#include "../store/acme_store_pg.h"
#include "../store/acme_store_redis.h"
#include "../ca/acme_ca.h"
#include "acme_srv.h"


#define ACME_SRV_MAX_IDENTIFIERS  100
#define ACME_SRV_MAX_CONNS        8
#define ACME_SRV_MAX_SIGNERS      16
#define ACME_SRV_ORDERS_PAGE      100
#define ACME_SRV_RETRY_AFTER      1


/* per-thread connections, keyed by their settings (several CAs may use
 * several databases); made lazily in the pool thread that uses them */
#define ACME_SRV_KEY_CACHE  64

/* account keys imported from their stored JWK, by account row id */
typedef struct {
    int64_t         id;
    char           *jwk;
    EVP_PKEY       *key;
} acme_srv_key_entry_t;

typedef struct {
    acme_srv_key_entry_t  keys[ACME_SRV_KEY_CACHE];
    size_t          npg;
    char           *pg_key[ACME_SRV_MAX_CONNS];
    acme_pg_t      *pg[ACME_SRV_MAX_CONNS];
    size_t          nrd;
    char           *rd_key[ACME_SRV_MAX_CONNS];
    acme_redis_t   *rd[ACME_SRV_MAX_CONNS];
} acme_srv_tls_t;

/* per-process signers: opened after fork on first use, shared by threads */
typedef struct {
    char           *key;
    acme_ca_t      *ca;
} acme_srv_signer_t;

/* what a verified request carries to its resource */
typedef struct {
    const acme_srv_conf_t  *conf;
    const acme_srv_req_t   *req;
    acme_srv_resp_t        *resp;
    acme_problem_t          prob;
    acme_pg_t              *pg;
    acme_redis_t           *rd;
    acme_jws_t              jws;
    EVP_PKEY               *key;
    acme_account_t          acct;      /* id 0 for jwk requests */
    char                    canonical[ACME_JWK_CANONICAL_MAX];
    char                    thumbprint[ACME_THUMBPRINT_LEN + 1];
    json_t                 *payload;   /* NULL for POST-as-GET */
    const char             *id;        /* resource id in the path */
    size_t                  id_len;
    const char             *cursor;    /* orders list page, NULL: first */
    acme_pg_res_t           res;       /* read with the account, once */
} acme_srv_ctx_t;


const char  *acme_srv_resource_names[ACME_SRV_R_MAX] = {
    "directory", "newNonce", "newAccount", "account", "newOrder", "order",
    "finalize", "authz", "challenge", "certificate", "revokeCert",
    "keyChange", "other"
};


static pthread_key_t      acme_srv_tls_key;
static pthread_once_t     acme_srv_tls_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t    acme_srv_signers_lock = PTHREAD_MUTEX_INITIALIZER;
static acme_srv_signer_t  acme_srv_signers[ACME_SRV_MAX_SIGNERS];
static size_t             acme_srv_nsigners;


static void acme_srv_tls_free(void *data);
static acme_srv_tls_t *acme_srv_tls(void);
static int acme_srv_internal(acme_srv_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


/* ---------------------------------------------------------------- */
/* connections */


static void
acme_srv_tls_init(void)
{
    (void) pthread_key_create(&acme_srv_tls_key, acme_srv_tls_free);
}


static void
acme_srv_tls_free(void *data)
{
    size_t           i;
    acme_srv_tls_t  *t;

    t = data;

    if (t == NULL) {
        return;
    }

    for (i = 0; i < t->npg; i++) {
        acme_pg_close(t->pg[i]);
        free(t->pg_key[i]);
    }

    for (i = 0; i < t->nrd; i++) {
        acme_redis_close(t->rd[i]);
        free(t->rd_key[i]);
    }

    for (i = 0; i < ACME_SRV_KEY_CACHE; i++) {
        free(t->keys[i].jwk);
        EVP_PKEY_free(t->keys[i].key);
    }

    free(t);
}


static acme_srv_tls_t *
acme_srv_tls(void)
{
    acme_srv_tls_t  *t;

    (void) pthread_once(&acme_srv_tls_once, acme_srv_tls_init);

    t = pthread_getspecific(acme_srv_tls_key);
    if (t == NULL) {
        t = calloc(1, sizeof(acme_srv_tls_t));
        if (t != NULL) {
            (void) pthread_setspecific(acme_srv_tls_key, t);
        }
    }

    return t;
}


void
acme_srv_thread_cleanup(void)
{
    acme_srv_tls_t  *t;

    (void) pthread_once(&acme_srv_tls_once, acme_srv_tls_init);

    t = pthread_getspecific(acme_srv_tls_key);
    acme_srv_tls_free(t);
    (void) pthread_setspecific(acme_srv_tls_key, NULL);
}


static acme_pg_t *
acme_srv_pg(const acme_srv_conf_t *conf)
{
    size_t           i;
    acme_srv_tls_t  *t;

    t = acme_srv_tls();
    if (t == NULL) {
        return NULL;
    }

    for (i = 0; i < t->npg; i++) {
        if (strcmp(t->pg_key[i], conf->conninfo) == 0) {
            return t->pg[i];
        }
    }

    if (t->npg == ACME_SRV_MAX_CONNS) {
        return NULL;
    }

    t->pg_key[t->npg] = strdup(conf->conninfo);
    t->pg[t->npg] = acme_pg_open(conf->conninfo);

    if (t->pg_key[t->npg] == NULL || t->pg[t->npg] == NULL) {
        free(t->pg_key[t->npg]);
        acme_pg_close(t->pg[t->npg]);
        return NULL;
    }

    /* a failed SET drops the connection: the next call reconnects */
    (void) acme_pg_generic_plans(t->pg[t->npg]);

    return t->pg[t->npg++];
}


static acme_redis_t *
acme_srv_redis(const acme_srv_conf_t *conf)
{
    size_t           i;
    char             key[512];
    acme_srv_tls_t  *t;

    t = acme_srv_tls();
    if (t == NULL) {
        return NULL;
    }

    snprintf(key, sizeof(key), "%s:%d", conf->redis_host, conf->redis_port);

    for (i = 0; i < t->nrd; i++) {
        if (strcmp(t->rd_key[i], key) == 0) {
            return t->rd[i];
        }
    }

    if (t->nrd == ACME_SRV_MAX_CONNS) {
        return NULL;
    }

    t->rd_key[t->nrd] = strdup(key);
    t->rd[t->nrd] = acme_redis_open(conf->redis_host, conf->redis_port,
                                    conf->timeout_ms);

    if (t->rd_key[t->nrd] == NULL || t->rd[t->nrd] == NULL) {
        free(t->rd_key[t->nrd]);
        acme_redis_close(t->rd[t->nrd]);
        return NULL;
    }

    return t->rd[t->nrd++];
}


static acme_ca_t *
acme_srv_signer(const acme_srv_conf_t *conf, char *err, size_t errlen)
{
    size_t      i;
    char        key[2048];
    acme_ca_t  *ca;

    snprintf(key, sizeof(key), "%s|%s|%s", conf->pkcs11_module,
             conf->key_uri, conf->chain_pem);

    ca = NULL;
    pthread_mutex_lock(&acme_srv_signers_lock);

    for (i = 0; i < acme_srv_nsigners; i++) {
        if (strcmp(acme_srv_signers[i].key, key) == 0) {
            ca = acme_srv_signers[i].ca;
            goto done;
        }
    }

    if (acme_srv_nsigners == ACME_SRV_MAX_SIGNERS) {
        snprintf(err, errlen, "too many signers in one process");
        goto done;
    }

    ca = acme_ca_p11_open(conf->pkcs11_module, conf->key_uri, conf->pin,
                          conf->chain_pem, err, errlen);
    if (ca == NULL) {
        goto done;
    }

    acme_srv_signers[acme_srv_nsigners].key = strdup(key);
    if (acme_srv_signers[acme_srv_nsigners].key == NULL) {
        acme_ca_free(ca);
        ca = NULL;
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    acme_srv_signers[acme_srv_nsigners++].ca = ca;

done:

    pthread_mutex_unlock(&acme_srv_signers_lock);

    return ca;
}


/* ---------------------------------------------------------------- */
/* responses */


void
acme_srv_resp_clear(acme_srv_resp_t *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}


static void
acme_srv_resp_problem(acme_srv_resp_t *resp, const acme_problem_t *p)
{
    acme_srv_resp_clear(resp);

    resp->status = acme_problem_status(p);
    /* RFC 8555 6.6: rateLimited (and an outage's 503) say when to retry */
    if (resp->status == 503 && resp->retry_after == 0) {
        resp->retry_after = 5;

    } else if (resp->status != 429 && resp->status != 503) {
        resp->retry_after = 0;
    }
    resp->content_type = "application/problem+json";
    resp->body = acme_problem_json(p);
    resp->body_len = resp->body ? strlen(resp->body) : 0;

    /* RFC 8555 7.3.5: a 409 names the conflicting resource */
    if (resp->status != 409) {
        resp->location[0] = '\0';
    }
}


void
acme_srv_problem(acme_srv_resp_t *resp, int type, int status,
    const char *detail)
{
    acme_problem_t  p;

    acme_problem_set_status(&p, (acme_prob_e) type, status, "%s", detail);
    acme_srv_resp_problem(resp, &p);
}


static int
acme_srv_internal(acme_srv_ctx_t *ctx, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    (void) vsnprintf(ctx->resp->log, sizeof(ctx->resp->log), fmt, args);
    va_end(args);

    /* the real cause goes to the error log, never to the client; a
     * database or Redis that is away is an outage: 503 with Retry-After */
    if ((ctx->pg && acme_pg_outage(ctx->pg))
        || (ctx->rd && acme_redis_outage(ctx->rd)))
    {
        return acme_problem_set_status(&ctx->prob,
                                       ACME_PROB_SERVER_INTERNAL, 503,
                                       "the service is temporarily "
                                       "unavailable; try again later");
    }

    return acme_problem_set(&ctx->prob, ACME_PROB_SERVER_INTERNAL,
                            "the server could not complete the request; "
                            "try again later");
}


/* the audit event as one JSON line for the NOTICE log (takes a new json
 * reference; events without a line are no error) */
static void
acme_srv_notice(acme_srv_ctx_t *ctx, json_t *event)
{
    char  *s;

    if (event == NULL) {
        return;
    }

    json_object_set_new(event, "ca", json_string(ctx->conf->ca_name));
    s = json_dumps(event, JSON_COMPACT);
    json_decref(event);

    if (s) {
        snprintf(ctx->resp->notice, sizeof(ctx->resp->notice), "audit %s",
                 s);
        free(s);
    }
}


/* takes a new json reference */
static int
acme_srv_json(acme_srv_ctx_t *ctx, int status, json_t *o)
{
    acme_srv_resp_t  *resp;

    resp = ctx->resp;

    if (o == NULL) {
        return acme_srv_internal(ctx, "out of memory building a response");
    }

    acme_srv_resp_clear(resp);
    resp->body = json_dumps(o, JSON_COMPACT);
    json_decref(o);

    if (resp->body == NULL) {
        return acme_srv_internal(ctx, "out of memory building a response");
    }

    resp->status = status;
    resp->content_type = "application/json";
    resp->body_len = strlen(resp->body);

    return ACME_OK;
}


static void
acme_srv_url(char *out, size_t size, const acme_srv_req_t *req,
    const char *kind, const char *id, const char *suffix)
{
    snprintf(out, size, "%.*s%s/%s%s", (int) req->base_len, req->base_url,
             kind, id, suffix ? suffix : "");
}


static json_t *
acme_srv_url_json(const acme_srv_req_t *req, const char *kind,
    const char *id, const char *suffix)
{
    char  url[ACME_SRV_URL_MAX];

    acme_srv_url(url, sizeof(url), req, kind, id, suffix);

    return json_string(url);
}


/* RFC 8555 7.1: timestamps are RFC 3339 */
static json_t *
acme_srv_time_json(time_t t)
{
    char       buf[32];
    struct tm  tm;

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);

    return json_string(buf);
}


static int
acme_srv_random_id(char *out)
{
    int            i;
    unsigned char  raw[ACME_ID_BYTES];

    /* ids are typed on command lines (acme-server-admin account show
     * ID): one starting with "-" would read as an option, so such draws
     * are redrawn; 2 of 64 first characters, so this ends at once */
    for (i = 0; i < 64; i++) {
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            return ACME_ERROR;
        }

        out[acme_b64u_encode(out, raw, sizeof(raw))] = '\0';

        if (out[0] != '-' && out[0] != '_') {
            return ACME_OK;
        }
    }

    return ACME_ERROR;
}


static int
acme_srv_random_token(char *out)
{
    unsigned char  raw[ACME_TOKEN_BYTES];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return ACME_ERROR;
    }

    out[acme_b64u_encode(out, raw, sizeof(raw))] = '\0';

    return ACME_OK;
}


/* ---------------------------------------------------------------- */
/* directory and nonces */


char *
acme_srv_directory(const acme_srv_conf_t *conf, const char *base_url,
    size_t len)
{
    char    *s;
    char     url[5][ACME_SRV_URL_MAX];
    json_t  *o, *meta;

    snprintf(url[0], sizeof(url[0]), "%.*snew-nonce", (int) len, base_url);
    snprintf(url[1], sizeof(url[1]), "%.*snew-account", (int) len, base_url);
    snprintf(url[2], sizeof(url[2]), "%.*snew-order", (int) len, base_url);
    snprintf(url[3], sizeof(url[3]), "%.*srevoke-cert", (int) len, base_url);
    snprintf(url[4], sizeof(url[4]), "%.*skey-change", (int) len, base_url);

    /* RFC 8555 7.1.1 */
    meta = json_pack("{s:b}", "externalAccountRequired",
                     conf->eab == ACME_SRV_EAB_REQUIRED);

    if (meta && conf->tos_url) {
        json_object_set_new(meta, "termsOfService",
                            json_string(conf->tos_url));
    }

    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
                  "newNonce", url[0],
                  "newAccount", url[1],
                  "newOrder", url[2],
                  "revokeCert", url[3],
                  "keyChange", url[4],
                  "meta", meta ? meta : json_object());
    if (o == NULL) {
        return NULL;
    }

    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);

    return s;
}


/*
 * The nonces' random octets come from a per-thread buffer refilled every
 * 64 nonces: RAND_bytes() costs 0.57 us a call here (its locks and fork
 * check) whatever the size up to a few hundred octets, 3 % of a newNonce.
 * Octets are wiped once used.  A forked child starts with an empty buffer
 * (pthread_atfork), so no two processes hand out the same octets.
 */
static __thread unsigned char  acme_srv_rnd[512];
static __thread size_t         acme_srv_rnd_off = sizeof(acme_srv_rnd);
static pthread_once_t          acme_srv_rnd_once = PTHREAD_ONCE_INIT;
static int                     acme_srv_rnd_ok;


static void
acme_srv_rnd_child(void)
{
    OPENSSL_cleanse(acme_srv_rnd, sizeof(acme_srv_rnd));
    acme_srv_rnd_off = sizeof(acme_srv_rnd);
}


static void
acme_srv_rnd_init(void)
{
    acme_srv_rnd_ok = pthread_atfork(NULL, NULL, acme_srv_rnd_child) == 0;
}


int
acme_srv_nonce(const acme_srv_conf_t *conf, char *out)
{
    int             rc;
    unsigned char  *rnd;

    if (pthread_once(&acme_srv_rnd_once, acme_srv_rnd_init) != 0
        || !acme_srv_rnd_ok)
    {
        return ACME_ERROR;
    }

    if (acme_srv_rnd_off + 8 > sizeof(acme_srv_rnd)) {
        if (RAND_bytes(acme_srv_rnd, sizeof(acme_srv_rnd)) != 1) {
            return ACME_ERROR;
        }

        acme_srv_rnd_off = 0;
    }

    rnd = acme_srv_rnd + acme_srv_rnd_off;
    acme_srv_rnd_off += 8;

    rc = acme_nonce_mint(conf->nonce_key, time(NULL), rnd, out);
    OPENSSL_cleanse(rnd, 8);

    return rc;
}


/* ---------------------------------------------------------------- */
/* objects */


static const char *
acme_srv_order_status(const acme_order_t *o, time_t now)
{
    /* RFC 8555 7.1.6: an order past its expiry, or one of whose
     * authorizations expired or failed, is invalid */
    if ((strcmp(o->status, "pending") == 0 || strcmp(o->status, "ready") == 0)
        && (o->expires <= now || o->authz_unusable))
    {
        return "invalid";
    }

    return o->status;
}


static const char *
acme_srv_authz_status(const acme_authz_t *az, time_t now)
{
    if ((strcmp(az->status, "pending") == 0 || strcmp(az->status, "valid")
                                               == 0)
        && az->expires <= now)
    {
        return "expired";
    }

    return az->status;
}


static json_t *
acme_srv_order_json(acme_srv_ctx_t *ctx, const acme_order_t *o)
{
    size_t   i;
    json_t  *j, *authzs, *ids, *err;

    ids = json_loads(o->identifiers, 0, NULL);
    authzs = json_array();

    for (i = 0; authzs && i < o->nauthz; i++) {
        json_array_append_new(authzs, acme_srv_url_json(ctx->req, "authz",
                                                        o->authz_ids[i],
                                                        NULL));
    }

    j = json_pack("{s:s, s:o, s:o, s:o, s:o}",
                  "status", acme_srv_order_status(o, time(NULL)),
                  "expires", acme_srv_time_json(o->expires),
                  "identifiers", ids ? ids : json_array(),
                  "authorizations", authzs ? authzs : json_array(),
                  "finalize", acme_srv_url_json(ctx->req, "order",
                                                o->public_id, "/finalize"));
    if (j == NULL) {
        return NULL;
    }

    if (o->not_before) {
        json_object_set_new(j, "notBefore", acme_srv_time_json(o->not_before));
    }

    if (o->not_after) {
        json_object_set_new(j, "notAfter", acme_srv_time_json(o->not_after));
    }

    if (o->cert_id[0] && strcmp(o->status, "valid") == 0) {
        json_object_set_new(j, "certificate",
                            acme_srv_url_json(ctx->req, "cert", o->cert_id,
                                              NULL));
    }

    if (o->error) {
        err = json_loads(o->error, 0, NULL);
        if (err) {
            json_object_set_new(j, "error", err);
        }
    }

    return j;
}


static json_t *
acme_srv_chall_json(acme_srv_ctx_t *ctx, const acme_chall_t *ch)
{
    json_t  *j, *err;

    j = json_pack("{s:s, s:o, s:s, s:s}",
                  "type", ch->type,
                  "url", acme_srv_url_json(ctx->req, "chall", ch->public_id,
                                           NULL),
                  "status", ch->status,
                  "token", ch->token);
    if (j == NULL) {
        return NULL;
    }

    if (ch->validated) {
        json_object_set_new(j, "validated", acme_srv_time_json(ch->validated));
    }

    if (ch->error) {
        err = json_loads(ch->error, 0, NULL);
        if (err) {
            json_object_set_new(j, "error", err);
        }
    }

    return j;
}


static json_t *
acme_srv_authz_json(acme_srv_ctx_t *ctx, const acme_authz_t *az)
{
    size_t   i;
    json_t  *j, *challs;

    challs = json_array();

    for (i = 0; challs && i < az->nchalls; i++) {
        json_array_append_new(challs, acme_srv_chall_json(ctx,
                                                          &az->challs[i]));
    }

    /* RFC 8555 7.1.4: the identifier of a wildcard authorization is the
     * base name, with "wildcard": true */
    j = json_pack("{s:{s:s, s:s}, s:s, s:o, s:o}",
                  "identifier", "type", az->identifier_type,
                  "value", az->identifier_value,
                  "status", acme_srv_authz_status(az, time(NULL)),
                  "expires", acme_srv_time_json(az->expires),
                  "challenges", challs ? challs : json_array());

    if (j && az->wildcard) {
        json_object_set_new(j, "wildcard", json_true());
    }

    return j;
}


static json_t *
acme_srv_account_json(acme_srv_ctx_t *ctx, const acme_account_t *a)
{
    json_t  *j, *contact, *eab;

    contact = json_loads(a->contact, 0, NULL);

    j = json_pack("{s:s, s:o, s:o}",
                  "status", a->status,
                  "contact", contact ? contact : json_array(),
                  "orders", acme_srv_url_json(ctx->req, "acct", a->public_id,
                                              "/orders"));

    if (j && a->tos_agreed) {
        json_object_set_new(j, "termsOfServiceAgreed", json_true());
    }

    /* RFC 8555 7.3.4: a verified binding is reflected */
    if (j && a->eab_binding) {
        eab = json_loads(a->eab_binding, 0, NULL);
        if (eab) {
            json_object_set_new(j, "externalAccountBinding", eab);
        }
    }

    return j;
}


/* ---------------------------------------------------------------- */
/* resources */


/* RFC 8555 7.3: contact URLs; mailto only (7.3 allows a server to
 * restrict the schemes it supports) */
static int
acme_srv_contact(acme_srv_ctx_t *ctx, json_t *contact, char **out)
{
    size_t       i;
    json_t      *v;
    const char  *s;

    if (!json_is_array(contact)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "\"contact\" must be an array of URLs");
    }

    if (json_array_size(contact) > 10) {
        return acme_problem_set(&ctx->prob, ACME_PROB_INVALID_CONTACT,
                                "at most 10 contacts are accepted");
    }

    json_array_foreach(contact, i, v) {
        s = json_string_value(v);

        if (s == NULL) {
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "\"contact\" entries must be strings");
        }

        if (strncmp(s, "mailto:", 7) != 0) {
            return acme_problem_set(&ctx->prob, ACME_PROB_UNSUPPORTED_CONTACT,
                                    "only mailto: contacts are supported");
        }

        if (strlen(s) > 254 + 7 || strchr(s + 7, '@') == NULL
            || strpbrk(s + 7, ",?; <>\"\r\n") != NULL)
        {
            return acme_problem_set(&ctx->prob, ACME_PROB_INVALID_CONTACT,
                                    "contact \"%.100s\" is not a single "
                                    "email address", s);
        }
    }

    *out = json_dumps(contact, JSON_COMPACT);
    if (*out == NULL) {
        return acme_srv_internal(ctx, "out of memory");
    }

    return ACME_OK;
}


static int
acme_srv_account_reply(acme_srv_ctx_t *ctx, int status,
    const acme_account_t *a)
{
    acme_srv_url(ctx->resp->location, sizeof(ctx->resp->location), ctx->req,
                 "acct", a->public_id, NULL);

    return acme_srv_json(ctx, status, acme_srv_account_json(ctx, a));
}


static const char  *acme_srv_rl_names[] = {
    "new_accounts_per_ip", "new_orders_per_account",
    "certificates_per_domain"
};


/* a refusal is an audit event of its own (issue 8); best effort: the
 * refusal stands even if it cannot be recorded */
static void
acme_srv_audit_limit(acme_srv_ctx_t *ctx, const char *limit,
    const char *subject)
{
    char    *s;
    json_t  *d;

    d = json_pack("{s:s, s:s, s:s}", "limit", limit, "subject", subject,
                  "client", ctx->req->client_ip ? ctx->req->client_ip : "");
    s = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);

    if (s == NULL
        || acme_pg_audit(ctx->pg, ctx->conf->ca_name, "ratelimit.refused",
                         ctx->acct.id ? ctx->acct.public_id : NULL, s)
           != ACME_OK)
    {
        snprintf(ctx->resp->log, sizeof(ctx->resp->log),
                 "audit of a rate-limit refusal: %s",
                 s ? acme_pg_errmsg(ctx->pg) : "out of memory");
    }

    free(s);
}


static int
acme_srv_rl_exempt(acme_srv_ctx_t *ctx)
{
    acme_policy_t  pol;

    if (ctx->conf->rl_nexempt_ips == 0 || ctx->req->client_ip == NULL) {
        return 0;
    }

    memset(&pol, 0, sizeof(pol));
    pol.allow_ips = ctx->conf->rl_exempt_ips;
    pol.nallow_ips = ctx->conf->rl_nexempt_ips;

    return acme_policy_ip_allowed(&pol, ctx->req->client_ip);
}


/*
 * Spends one request of limit `which` from each subject's bucket, all or
 * nothing (one Redis round trip).  A refusal is rateLimited with
 * Retry-After (RFC 8555 6.6).
 */
static int
acme_srv_rate_limit(acme_srv_ctx_t *ctx, int which,
    const char *const *subjects, size_t n)
{
    int                   rc;
    char                  keys[16][512];
    size_t                i, denied;
    long long             retry_ms, now_ms;
    struct timespec       ts;
    acme_redis_bucket_t   b[16];
    const acme_srv_rate_t *rate;

    rate = &ctx->conf->rate[which];

    if (rate->interval_ms == 0 || n == 0 || acme_srv_rl_exempt(ctx)) {
        return ACME_OK;
    }

    if (n > 16) {
        n = 16;
    }

    for (i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), "acme:rl:%s:%s:%s",
                 ctx->conf->ca_name, acme_srv_rl_names[which], subjects[i]);
        b[i].key = keys[i];
        b[i].interval_ms = rate->interval_ms;
        b[i].burst = rate->burst;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    now_ms = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

    rc = acme_redis_gcra(ctx->rd, b, n, now_ms, &denied, &retry_ms);

    if (rc == ACME_CONFLICT) {
        acme_srv_audit_limit(ctx, acme_srv_rl_names[which], subjects[denied]);
        ctx->resp->rate_limit = which + 1;
        ctx->resp->retry_after = (int) ((retry_ms + 999) / 1000);
        if (ctx->resp->retry_after < 1) {
            ctx->resp->retry_after = 1;
        }

        return acme_problem_set(&ctx->prob, ACME_PROB_RATE_LIMITED,
                                "rate limit %s exceeded for %s; retry in %d "
                                "s", acme_srv_rl_names[which],
                                subjects[denied], ctx->resp->retry_after);
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "rate limit: %s",
                                 acme_redis_errmsg(ctx->rd));
    }

    return ACME_OK;
}


/* the registered domain, approximated as the last two labels (no public
 * suffix list): the subject of certificates_per_domain */
static const char *
acme_srv_reg_domain(const char *name)
{
    const char  *p, *last, *prev;

    if (name[0] == '*' && name[1] == '.') {
        name += 2;
    }

    last = NULL;
    prev = NULL;

    for (p = name; *p; p++) {
        if (*p == '.') {
            prev = last;
            last = p;
        }
    }

    return prev ? prev + 1 : name;
}


/*
 * RFC 8555 7.3.4: checks the newAccount's externalAccountBinding against
 * the CA's policy and its key; kid receives the EAB key id to bind, or ""
 * when there is no binding.
 */
static int
acme_eab_check(acme_srv_ctx_t *ctx, char *kid)
{
    int             rc, revoked;
    char            url[ACME_SRV_URL_MAX];
    json_t         *v;
    size_t          key_len;
    int64_t         bound;
    acme_eab_t      eab;
    unsigned char   key[128];

    kid[0] = '\0';
    v = json_object_get(ctx->payload, "externalAccountBinding");

    if (v == NULL) {
        if (ctx->conf->eab == ACME_SRV_EAB_REQUIRED) {
            return acme_problem_set(&ctx->prob,
                                    ACME_PROB_EXTERNAL_ACCOUNT_REQUIRED,
                                    "this CA requires an external account "
                                    "binding (RFC 8555 7.3.4)");
        }

        return ACME_OK;
    }

    if (ctx->conf->eab == ACME_SRV_EAB_OFF) {
        /* RFC 8555 7.3.4: a server that does not use EAB may ignore it */
        return ACME_OK;
    }

    snprintf(url, sizeof(url), "%.*snew-account", (int) ctx->req->base_len,
             ctx->req->base_url);

    if (acme_eab_parse(v, url, ctx->canonical, &eab, &ctx->prob) != ACME_OK)
    {
        acme_eab_clear(&eab);
        return ACME_ERROR;
    }

    key_len = sizeof(key);
    rc = acme_pg_eab_get(ctx->pg, ctx->conf->ca_name, eab.kid, key, &key_len,
                         &bound, &revoked);

    if (rc == ACME_NOT_FOUND || (rc == ACME_OK && revoked)) {
        acme_eab_clear(&eab);
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "unknown or revoked external account key "
                                "id");
    }

    if (rc != ACME_OK) {
        acme_eab_clear(&eab);
        return acme_srv_internal(ctx, "eab lookup: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    rc = acme_eab_verify(&eab, key, key_len, &ctx->prob);
    OPENSSL_cleanse(key, sizeof(key));

    if (rc != ACME_OK) {
        acme_eab_clear(&eab);
        return ACME_ERROR;
    }

    /* one external account key, one ACME account */
    if (bound) {
        acme_eab_clear(&eab);
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "this external account key is already "
                                "bound to an account");
    }

    strcpy(kid, eab.kid);
    acme_eab_clear(&eab);

    return ACME_OK;
}


/* RFC 8555 7.3 */
/*
 * RFC 8555 7.3.1: the account of this newAccount's key, answered as it
 * is (200), or 401 when it is no longer valid (7.3.6: nothing more is
 * accepted from a deactivated account's key, a lookup included).  Returns
 * ACME_NOT_FOUND, with nothing answered, when the key has no account.
 */
static int
acme_srv_account_existing(acme_srv_ctx_t *ctx)
{
    int             rc;
    acme_account_t  a;

    rc = acme_pg_account_by_thumbprint(ctx->pg, ctx->conf->ca_name,
                                       ctx->thumbprint, &a);
    if (rc == ACME_NOT_FOUND) {
        return ACME_NOT_FOUND;
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "account lookup: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    if (strcmp(a.status, "valid") != 0) {
        acme_problem_set_status(&ctx->prob, ACME_PROB_UNAUTHORIZED, 401,
                                "the account of this key is %s", a.status);
        acme_account_clear(&a);
        return ACME_ERROR;
    }

    rc = acme_srv_account_reply(ctx, 200, &a);
    acme_account_clear(&a);

    return rc;
}


/*
 * The checks of a newAccount for a new key, in RFC order: *tos and
 * *contact (malloc'ed JSON array, caller frees) on ACME_OK, eab_kid as
 * for acme_eab_check(); the new_accounts_per_ip token is spent last.
 */
static int
acme_srv_new_account_check(acme_srv_ctx_t *ctx, int *tos, char **contact,
    char *eab_kid)
{
    json_t      *v;
    const char  *subject;

    *tos = 0;
    *contact = NULL;
    eab_kid[0] = '\0';

    v = json_object_get(ctx->payload, "onlyReturnExisting");
    if (v && !json_is_boolean(v)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "\"onlyReturnExisting\" must be a boolean");
    }

    if (json_is_true(v)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_ACCOUNT_DOES_NOT_EXIST,
                                "no account exists with this key");
    }

    v = json_object_get(ctx->payload, "termsOfServiceAgreed");
    if (v && !json_is_boolean(v)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "\"termsOfServiceAgreed\" must be a boolean");
    }

    *tos = json_is_true(v);

    /* RFC 8555 7.3: with terms of service, the client must agree */
    if (ctx->conf->tos_url && !*tos) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "you must agree to the terms of service "
                                "(%.200s): set \"termsOfServiceAgreed\"",
                                ctx->conf->tos_url);
    }

    v = json_object_get(ctx->payload, "contact");

    if (ctx->conf->require_contact
        && (!json_is_array(v) || json_array_size(v) == 0))
    {
        return acme_problem_set(&ctx->prob, ACME_PROB_INVALID_CONTACT,
                                "this CA requires a mailto: contact");
    }

    if (acme_eab_check(ctx, eab_kid) != ACME_OK) {
        return ACME_ERROR;
    }

    if (v == NULL) {
        *contact = strdup("[]");
        if (*contact == NULL) {
            return acme_srv_internal(ctx, "out of memory");
        }

    } else if (acme_srv_contact(ctx, v, contact) != ACME_OK) {
        return ACME_ERROR;
    }

    subject = ctx->req->client_ip ? ctx->req->client_ip : "unknown";

    if (acme_srv_rate_limit(ctx, ACME_SRV_RL_NEW_ACCOUNT, &subject, 1)
        != ACME_OK)
    {
        free(*contact);
        *contact = NULL;
        return ACME_ERROR;
    }

    return ACME_OK;
}


static int
acme_srv_new_account(acme_srv_ctx_t *ctx)
{
    int              rc, tos, first;
    char            *contact;
    char             id[ACME_ID_LEN + 1];
    char             eab_kid[ACME_EAB_KID_MAX + 1];
    char            *binding;
    acme_account_t   a;
    acme_problem_t   prob;

    if (ctx->payload == NULL || !json_is_object(ctx->payload)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "newAccount payload must be a JSON object");
    }

    /*
     * RFC 8555 7.3.1: an existing key returns its account, whatever the
     * rest of the payload says.  The lookup comes first when the checks of
     * a new key read the database or spend a rate-limit token (EAB,
     * new_accounts_per_ip), which an existing key must not do; otherwise
     * the insert finds out, and the lookup runs only when it conflicts or
     * a check fails.
     */
    first = ctx->conf->eab != ACME_SRV_EAB_OFF
            || (ctx->conf->rate[ACME_SRV_RL_NEW_ACCOUNT].interval_ms
                && !acme_srv_rl_exempt(ctx));

    if (first) {
        rc = acme_srv_account_existing(ctx);
        if (rc != ACME_NOT_FOUND) {
            return rc;
        }
    }

    if (acme_srv_new_account_check(ctx, &tos, &contact, eab_kid)
        != ACME_OK)
    {
        if (first || ctx->prob.type == ACME_PROB_SERVER_INTERNAL) {
            return ACME_ERROR;
        }

        prob = ctx->prob;

        rc = acme_srv_account_existing(ctx);
        if (rc != ACME_NOT_FOUND) {
            return rc;
        }

        ctx->prob = prob;

        return ACME_ERROR;
    }

    if (acme_srv_random_id(id) != ACME_OK) {
        free(contact);
        return acme_srv_internal(ctx, "RAND_bytes() failed");
    }

    binding = NULL;

    if (eab_kid[0]) {
        binding = json_dumps(json_object_get(ctx->payload,
                                             "externalAccountBinding"),
                             JSON_COMPACT);
    }

    rc = acme_pg_account_create(ctx->pg, ctx->conf->ca_name, id,
                                ctx->thumbprint, ctx->canonical, contact,
                                tos, binding, &a);
    free(binding);
    free(contact);

    if (rc == ACME_CONFLICT) {
        /* the key's account, or one created by a concurrent request with
         * the same key */
        rc = acme_srv_account_existing(ctx);
        if (rc == ACME_NOT_FOUND) {
            return acme_srv_internal(ctx, "account lookup after a "
                                     "conflict: none");
        }

        return rc;
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "account create: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    /* RFC 8555 7.3.4: the key is now bound to this account */
    if (eab_kid[0]) {
        rc = acme_pg_eab_bind(ctx->pg, eab_kid, a.id);

        if (rc != ACME_OK) {
            (void) acme_pg_account_update(ctx->pg, a.id, NULL,
                                          "deactivated");
            acme_account_clear(&a);

            if (rc == ACME_CONFLICT) {
                return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                        "the external account key was "
                                        "bound to another account "
                                        "meanwhile");
            }

            return acme_srv_internal(ctx, "eab bind: %s",
                                     acme_pg_errmsg(ctx->pg));
        }
    }

    acme_srv_notice(ctx, json_pack("{s:s, s:s, s:s, s:s}", "event",
                                   "account.created", "account",
                                   a.public_id, "eab_kid", eab_kid,
                                   "client", ctx->req->client_ip
                                             ? ctx->req->client_ip : ""));

    rc = acme_srv_account_reply(ctx, 201, &a);
    acme_account_clear(&a);

    return rc;
}


/* RFC 8555 7.3.2 (update), 7.3.6 (deactivate), 7.1.2.1 (orders list) */
static int
acme_srv_account(acme_srv_ctx_t *ctx, int orders)
{
    int              rc;
    char            *contact;
    size_t           i, n;
    char           **ids;
    json_t          *v, *list;
    const char      *status;
    acme_account_t   a;

    if (ctx->id_len != strlen(ctx->acct.public_id)
        || strncmp(ctx->id, ctx->acct.public_id, ctx->id_len) != 0)
    {
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "the request is not signed by this "
                                "account's key");
    }

    if (orders) {
        char  cursor[ACME_ID_LEN + 1], suffix[ACME_ID_LEN + 16];

        /* "orders/CURSOR": the page after that order */
        if (ctx->req->path_len == 5 + 2 * ACME_ID_LEN + 8) {
            memcpy(cursor, ctx->req->path + 5 + ACME_ID_LEN + 8,
                   ACME_ID_LEN);
            cursor[ACME_ID_LEN] = '\0';
            ctx->cursor = cursor;
        }

        /* one more than a page tells whether a next page exists */
        if (acme_pg_account_orders(ctx->pg, ctx->acct.id, ctx->cursor,
                                   ACME_SRV_ORDERS_PAGE + 1, &ids, &n)
            != ACME_OK)
        {
            return acme_srv_internal(ctx, "orders list: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        list = json_array();

        for (i = 0; list && i < n && i < ACME_SRV_ORDERS_PAGE; i++) {
            json_array_append_new(list, acme_srv_url_json(ctx->req, "order",
                                                          ids[i], NULL));
        }

        /* RFC 8555 7.1.2.1: Link rel="next" to the following page */
        if (n > ACME_SRV_ORDERS_PAGE) {
            snprintf(suffix, sizeof(suffix), "/orders/%s",
                     ids[ACME_SRV_ORDERS_PAGE - 1]);
            acme_srv_url(ctx->resp->link_next, sizeof(ctx->resp->link_next),
                         ctx->req, "acct", ctx->acct.public_id, suffix);
        }

        acme_pg_strv_free(ids, n);

        return acme_srv_json(ctx, 200, list ? json_pack("{s:o}", "orders",
                                                        list) : NULL);
    }

    if (ctx->payload == NULL) {
        return acme_srv_account_reply(ctx, 200, &ctx->acct);
    }

    if (!json_is_object(ctx->payload)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "account update must be a JSON object");
    }

    contact = NULL;
    status = NULL;

    /* RFC 8555 7.3.2: a status other than "deactivated" (7.3.6) is
     * ignored, but it must be a string */
    v = json_object_get(ctx->payload, "status");
    if (v) {
        if (!json_is_string(v)) {
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "\"status\" must be a string");
        }

        if (strcmp(json_string_value(v), "deactivated") == 0) {
            status = "deactivated";
        }
    }

    v = json_object_get(ctx->payload, "contact");
    if (v && acme_srv_contact(ctx, v, &contact) != ACME_OK) {
        return ACME_ERROR;
    }

    if (contact || status) {
        rc = acme_pg_account_update(ctx->pg, ctx->acct.id, contact, status);
        free(contact);

        if (rc == ACME_ERROR) {
            return acme_srv_internal(ctx, "account update: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        if (status) {
            acme_srv_notice(ctx, json_pack("{s:s, s:s}", "event",
                                           "account.deactivated", "account",
                                           ctx->acct.public_id));
        }
    }

    rc = acme_pg_account_by_public_id(ctx->pg, ctx->conf->ca_name,
                                      ctx->acct.public_id, &a);
    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "account reload: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    rc = acme_srv_account_reply(ctx, 200, &a);
    acme_account_clear(&a);

    return rc;
}


static const struct {
    unsigned     bit;
    const char  *name;
} acme_srv_chall_types[] = {
    { ACME_SRV_CHALL_HTTP01, "http-01" },
    { ACME_SRV_CHALL_DNS01, "dns-01" },
    { ACME_SRV_CHALL_TLSALPN01, "tls-alpn-01" },
};


/*
 * One identifier of a newOrder: checked, normalized, and given the
 * challenge types that can prove it: dns names all the enabled types,
 * wildcards dns-01 only (RFC 8555 7.1.3), IP addresses http-01 and
 * tls-alpn-01 (RFC 8738 7).
 */
static int
acme_srv_order_ident(acme_srv_ctx_t *ctx, json_t *v, const char **type,
    char *value, int *wildcard, unsigned *challs)
{
    json_t       *jv;
    const char   *t;

    t = json_string_value(json_object_get(v, "type"));
    jv = json_object_get(v, "value");

    if (t == NULL || !json_is_string(jv)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "each identifier needs string \"type\" "
                                "and \"value\"");
    }

    *wildcard = 0;

    if (strcmp(t, "dns") == 0 && (ctx->conf->ident_types & ACME_SRV_IDENT_DNS))
    {
        *type = "dns";

        if (acme_ident_dns_normalize(json_string_value(jv),
                                     json_string_length(jv), value,
                                     wildcard, &ctx->prob) != ACME_OK)
        {
            return ACME_ERROR;
        }

        *challs = ctx->conf->challenges;

        if (*wildcard) {
            *challs &= ACME_SRV_CHALL_DNS01;
        }

    } else if (strcmp(t, "ip") == 0
               && (ctx->conf->ident_types & ACME_SRV_IDENT_IP))
    {
        *type = "ip";

        if (acme_ident_ip_normalize(json_string_value(jv),
                                    json_string_length(jv), value,
                                    &ctx->prob) != ACME_OK)
        {
            return ACME_ERROR;
        }

        *challs = ctx->conf->challenges
                  & (ACME_SRV_CHALL_HTTP01 | ACME_SRV_CHALL_TLSALPN01);

    } else {
        return acme_problem_set(&ctx->prob, ACME_PROB_UNSUPPORTED_IDENTIFIER,
                                "identifier type \"%.32s\" is not offered "
                                "by this CA", t);
    }

    /* the operator's policy (acme_server_allow_names etc.) */
    if (((*type)[0] == 'd' && !acme_policy_name_allowed(&ctx->conf->policy,
                                                        value))
        || ((*type)[0] == 'i' && !acme_policy_ip_allowed(&ctx->conf->policy,
                                                       value)))
    {
        return acme_problem_set(&ctx->prob, ACME_PROB_REJECTED_IDENTIFIER,
                                "this CA's policy forbids issuance for "
                                "\"%s\"", value);
    }

    if (*challs == 0) {
        return acme_problem_set(&ctx->prob, ACME_PROB_REJECTED_IDENTIFIER,
                                "no challenge type this CA offers can "
                                "validate \"%s%s\"%s", *wildcard ? "*." : "",
                                value, *wildcard ? " (wildcards need dns-01)"
                                : "");
    }

    return ACME_OK;
}


/* newOrder's limits: pending authorizations, failed validations of each
 * identifier (both counted in PostgreSQL) and the order rate */
static int
acme_srv_order_limits(acme_srv_ctx_t *ctx, const char *const *types,
    char (*names)[ACME_DNS_NAME_MAX + 1], const int *wild, size_t n)
{
    size_t       i;
    long long    count;
    const char  *subject;

    if (acme_srv_rl_exempt(ctx)) {
        return ACME_OK;
    }

    if (ctx->conf->max_pending_authz) {
        if (acme_pg_account_pending_authz(ctx->pg, ctx->acct.id, &count)
            != ACME_OK)
        {
            return acme_srv_internal(ctx, "pending authorizations: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        if (count + (long long) n > ctx->conf->max_pending_authz) {
            acme_srv_audit_limit(ctx, "pending_authorizations_per_account",
                                 ctx->acct.public_id);
            ctx->resp->rate_limit = 4;
            ctx->resp->retry_after = 60;
            return acme_problem_set(&ctx->prob, ACME_PROB_RATE_LIMITED,
                                    "rate limit "
                                    "pending_authorizations_per_account: "
                                    "%lld pending, at most %lld", count,
                                    ctx->conf->max_pending_authz);
        }
    }

    for (i = 0; ctx->conf->max_failed_validations && i < n; i++) {
        if (acme_pg_account_failed_validations(ctx->pg, ctx->acct.id,
                                               types[i],
                                               wild[i] ? names[i] + 2
                                                       : names[i],
                                               ctx->conf->failed_window,
                                               &count)
            != ACME_OK)
        {
            return acme_srv_internal(ctx, "failed validations: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        if (count >= ctx->conf->max_failed_validations) {
            acme_srv_audit_limit(ctx, "failed_validations_per_identifier",
                                 names[i]);
            ctx->resp->rate_limit = 5;
            ctx->resp->retry_after = ctx->conf->failed_window;
            return acme_problem_set(&ctx->prob, ACME_PROB_RATE_LIMITED,
                                    "rate limit "
                                    "failed_validations_per_identifier: %lld "
                                    "failed validations of \"%s\" in %d s",
                                    count, names[i], ctx->conf->failed_window);
        }
    }

    subject = ctx->acct.public_id;

    return acme_srv_rate_limit(ctx, ACME_SRV_RL_NEW_ORDER, &subject, 1);
}


/* RFC 8555 7.4 */
static int
acme_srv_new_order(acme_srv_ctx_t *ctx)
{
    int                   rc, wildcard, subrc;
    char                 *ids_json;
    size_t                i, j, k, n;
    time_t                now;
    json_t               *idents, *v, *out;
    unsigned              challs[ACME_SRV_MAX_IDENTIFIERS];
    const char           *types[ACME_SRV_MAX_IDENTIFIERS];
    acme_order_t          o;
    acme_pg_new_authz_t   az[ACME_SRV_MAX_IDENTIFIERS];
    int                   wild[ACME_SRV_MAX_IDENTIFIERS];
    char                  names[ACME_SRV_MAX_IDENTIFIERS]
                               [ACME_DNS_NAME_MAX + 1];
    char                  azid[ACME_SRV_MAX_IDENTIFIERS][ACME_ID_LEN + 1];
    char                  chid[ACME_SRV_MAX_IDENTIFIERS][3]
                              [ACME_ID_LEN + 1];
    char                  tok[ACME_SRV_MAX_IDENTIFIERS][ACME_TOKEN_LEN + 1];
    char                  oid[ACME_ID_LEN + 1];
    const char           *sub_type, *sub_value;
    acme_problem_t        subs;

    if (ctx->payload == NULL || !json_is_object(ctx->payload)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "newOrder payload must be a JSON object");
    }

    if (json_object_get(ctx->payload, "notBefore")
        || json_object_get(ctx->payload, "notAfter"))
    {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "this CA sets the validity period itself: "
                                "omit \"notBefore\" and \"notAfter\"");
    }

    idents = json_object_get(ctx->payload, "identifiers");
    if (!json_is_array(idents) || json_array_size(idents) == 0) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "\"identifiers\" must be a non-empty array");
    }

    if (json_array_size(idents) > ACME_SRV_MAX_IDENTIFIERS) {
        return acme_problem_set(&ctx->prob, ACME_PROB_REJECTED_IDENTIFIER,
                                "at most %d identifiers in one order",
                                ACME_SRV_MAX_IDENTIFIERS);
    }

    n = 0;
    subs.nsub = 0;
    out = json_array();
    if (out == NULL) {
        return acme_srv_internal(ctx, "out of memory");
    }

    json_array_foreach(idents, i, v) {
        subrc = acme_srv_order_ident(ctx, v, &types[n], names[n], &wildcard,
                                     &challs[n]);
        if (subrc != ACME_OK) {
            /* RFC 8555 6.7.1: every rejected identifier as a subproblem,
             * not only the first */
            sub_type = json_string_value(json_object_get(v, "type"));
            sub_value = json_string_value(json_object_get(v, "value"));
            acme_problem_add_sub(&subs, &ctx->prob,
                                 sub_type ? sub_type : "",
                                 sub_value ? sub_value : "");
            continue;
        }

        wild[n] = wildcard;

        /* duplicates collapse into one identifier (RFC 8555 7.4) */
        for (j = 0; j < n; j++) {
            if (wild[j] == wild[n] && strcmp(types[j], types[n]) == 0
                && strcmp(names[j], names[n]) == 0)
            {
                break;
            }
        }

        if (j < n) {
            continue;
        }

        json_array_append_new(out, json_pack("{s:s, s:s}", "type", types[n],
                                             "value", names[n]));
        n++;
    }

    if (subs.nsub) {
        json_decref(out);

        /* one type for all, or "compound" (RFC 8555 6.7) */
        for (i = 1; i < subs.nsub && subs.sub[i].type == subs.sub[0].type;
             i++)
        {
            /* void */
        }

        if (subs.nsub == 1) {
            acme_problem_set(&ctx->prob, subs.sub[0].type, "%s",
                             subs.sub[0].detail);

        } else {
            acme_problem_set(&ctx->prob,
                             i == subs.nsub ? subs.sub[0].type
                                            : ACME_PROB_COMPOUND,
                             "%zu of the order's identifiers cannot be "
                             "issued: see subproblems", subs.nsub);
        }

        /* the status of a single type's; compound is a client error */
        if (ctx->prob.type == ACME_PROB_COMPOUND) {
            ctx->prob.status = 400;
        }

        ctx->prob.nsub = subs.nsub;
        memcpy(ctx->prob.sub, subs.sub, sizeof(subs.sub));

        return ACME_ERROR;
    }

    json_decref(out);
    out = NULL;

    if (acme_srv_order_limits(ctx, types, names, wild, n) != ACME_OK) {
        return ACME_ERROR;
    }

    out = json_array();
    if (out == NULL) {
        return acme_srv_internal(ctx, "out of memory");
    }

    for (i = 0; i < n; i++) {
        json_array_append_new(out, json_pack("{s:s, s:s}", "type", types[i],
                                             "value", names[i]));
    }

    now = time(NULL);

    for (i = 0; i < n; i++) {
        memset(&az[i], 0, sizeof(az[i]));

        if (acme_srv_random_id(azid[i]) != ACME_OK
            || acme_srv_random_token(tok[i]) != ACME_OK)
        {
            json_decref(out);
            return acme_srv_internal(ctx, "RAND_bytes() failed");
        }

        az[i].type = types[i];
        /* RFC 8555 7.1.4: the authz of "*.name" is for "name" */
        az[i].value = wild[i] ? names[i] + 2 : names[i];
        az[i].wildcard = wild[i];
        az[i].authz_id = azid[i];

        /* RFC 8555 8: one token shared by the authz's challenges */
        for (j = 0, k = 0; j < 3; j++) {
            if (!(challs[i] & acme_srv_chall_types[j].bit)) {
                continue;
            }

            if (acme_srv_random_id(chid[i][k]) != ACME_OK) {
                json_decref(out);
                return acme_srv_internal(ctx, "RAND_bytes() failed");
            }

            az[i].chall_ids[k] = chid[i][k];
            az[i].chall_types[k] = acme_srv_chall_types[j].name;
            az[i].tokens[k] = tok[i];
            k++;
        }
    }

    ids_json = json_dumps(out, JSON_COMPACT);
    json_decref(out);

    if (ids_json == NULL || acme_srv_random_id(oid) != ACME_OK) {
        free(ids_json);
        return acme_srv_internal(ctx, "out of memory");
    }

    rc = acme_pg_order_create(ctx->pg, ctx->acct.id, oid,
                              now + ctx->conf->order_lifetime, 0, 0,
                              ids_json, az, n,
                              now + ctx->conf->authz_lifetime,
                              ctx->conf->authz_reuse, &o);
    free(ids_json);

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "order create: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    acme_srv_url(ctx->resp->location, sizeof(ctx->resp->location), ctx->req,
                 "order", oid, NULL);
    ctx->resp->order_created = 1;
    acme_srv_notice(ctx, json_pack("{s:s, s:s, s:s, s:o}", "event",
                                   "order.created", "order", oid,
                                   "account", ctx->acct.public_id,
                                   "identifiers",
                                   json_loads(o.identifiers, 0, NULL)));

    rc = acme_srv_json(ctx, 201, acme_srv_order_json(ctx, &o));
    acme_order_clear(&o);

    return rc;
}


static int
acme_srv_load_order(acme_srv_ctx_t *ctx, acme_order_t *o)
{
    int   rc;
    char  id[ACME_ID_LEN + 1];

    if (ctx->id_len != ACME_ID_LEN) {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "no such order");
    }

    memcpy(id, ctx->id, ACME_ID_LEN);
    id[ACME_ID_LEN] = '\0';

    if (ctx->res.kind == ACME_PG_RES_ORDER) {
        /* read with the account (acme_srv_kid) */
        rc = ctx->res.rc;
        *o = ctx->res.order;
        memset(&ctx->res, 0, sizeof(ctx->res));

    } else {
        rc = acme_pg_order_get(ctx->pg, id, o);
    }

    if (rc == ACME_NOT_FOUND) {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "no such order");
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "order get: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    if (o->account_id != ctx->acct.id) {
        acme_order_clear(o);
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "this order belongs to another account");
    }

    return ACME_OK;
}


/* the order object, 200; o is borrowed */
static int
acme_srv_order_reply(acme_srv_ctx_t *ctx, const acme_order_t *o)
{
    if (strcmp(o->status, "processing") == 0) {
        ctx->resp->retry_after = ACME_SRV_RETRY_AFTER;
    }

    return acme_srv_json(ctx, 200, acme_srv_order_json(ctx, o));
}


static int
acme_srv_order(acme_srv_ctx_t *ctx)
{
    int           rc;
    acme_order_t  o;

    if (acme_srv_load_order(ctx, &o) != ACME_OK) {
        return ACME_ERROR;
    }

    rc = acme_srv_order_reply(ctx, &o);
    acme_order_clear(&o);

    return rc;
}


static int
acme_srv_issue(acme_srv_ctx_t *ctx, acme_order_t *o, X509_REQ *req,
    const char *const *types, const char *const *names, size_t n)
{
    int              rc;
    char            *chain, *audit;
    char             err[512], serial_hex[2 * 16 + 1];
    json_t          *detail;
    EVP_PKEY        *key;
    struct timespec  t0, t1;
    char             cid[ACME_ID_LEN + 1];
    size_t           i, der_len;
    acme_ca_t       *ca;
    acme_order_t     done;
    acme_problem_t   p;
    unsigned char   *der, serial[16];
    acme_ca_issue_t  in;

    ca = acme_srv_signer(ctx->conf, err, sizeof(err));
    if (ca == NULL) {
        return acme_srv_internal(ctx, "signer: %s", err);
    }

    /* CA/B BR 7.1: at least 64 bits of CSPRNG output; positive, non-zero
     * leading octet keeps the DER length fixed */
    if (RAND_bytes(serial, sizeof(serial)) != 1
        || acme_srv_random_id(cid) != ACME_OK)
    {
        return acme_srv_internal(ctx, "RAND_bytes() failed");
    }

    serial[0] = (serial[0] & 0x7f) | 0x01;

    for (i = 0; i < sizeof(serial); i++) {
        snprintf(serial_hex + 2 * i, 3, "%02x", serial[i]);
    }

    rc = acme_pg_finalize_begin(ctx->pg, o->id, ctx->acct.id, cid,
                                serial_hex);
    if (rc == ACME_CONFLICT) {
        return acme_problem_set(&ctx->prob, ACME_PROB_ORDER_NOT_READY,
                                "the order is no longer \"ready\"");
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "finalize: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    in.req = req;
    in.types = types;
    in.names = names;
    in.nnames = n;
    in.serial = serial;
    in.serial_len = sizeof(serial);
    /* backdated a minute for clients with slow clocks */
    in.not_before = time(NULL) - 60;
    in.not_after = in.not_before + ctx->conf->cert_lifetime;
    in.server_auth = (ctx->conf->eku & ACME_SRV_EKU_SERVER) != 0;
    in.client_auth = (ctx->conf->eku & ACME_SRV_EKU_CLIENT) != 0;
    in.crl_url = ctx->conf->crl_url;
    in.issuer_url = ctx->conf->issuer_url;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = acme_ca_issue(ca, &in, &der, &der_len, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);

    ctx->resp->sign_us = (t1.tv_sec - t0.tv_sec) * 1000000L
                         + (t1.tv_nsec - t0.tv_nsec) / 1000;

    if (rc != ACME_OK) {
        acme_srv_internal(ctx, "signing order %s: %s", o->public_id, err);
        acme_problem_set(&p, ACME_PROB_SERVER_INTERNAL,
                         "the certificate could not be signed");
        chain = acme_problem_json(&p);
        (void) acme_pg_finalize_fail(ctx->pg, o->id, chain);
        free(chain);
        return ACME_ERROR;
    }

    /* the stored chain is the issuer chain exactly as configured */
    chain = strdup(ctx->conf->chain_pem);
    /* the certificate.issued audit event's detail (issue 8) */
    key = X509_REQ_get0_pubkey(req);
    detail = json_pack("{s:s, s:i, s:s, s:I, s:I}",
                       "key_type", EVP_PKEY_get0_type_name(key)
                                   ? EVP_PKEY_get0_type_name(key) : "?",
                       "key_bits", EVP_PKEY_get_bits(key),
                       "ca", ctx->conf->ca_name,
                       "not_before", (json_int_t) in.not_before,
                       "not_after", (json_int_t) in.not_after);
    audit = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);

    rc = (chain != NULL) ? acme_pg_finalize_finish(ctx->pg, o->id, cid, der,
                                                   der_len, chain,
                                                   in.not_before,
                                                   in.not_after, audit,
                                                   &done)
                         : ACME_ERROR;
    free(audit);
    free(chain);
    free(der);

    if (rc != ACME_OK) {
        /* recovery (an order left "processing") finishes or fails it */
        return acme_srv_internal(ctx, "storing certificate %s of order %s: "
                                 "%s", serial_hex, o->public_id,
                                 acme_pg_errmsg(ctx->pg));
    }

    /* from here on *o is the order as issuance left it (names and types
     * are the caller's, not o's) */
    acme_order_clear(o);
    *o = done;

    acme_srv_notice(ctx, json_pack("{s:s, s:s, s:s, s:s, s:o}", "event",
                                   "certificate.issued", "serial",
                                   serial_hex, "order", o->public_id,
                                   "account", ctx->acct.public_id,
                                   "identifiers",
                                   json_loads(o->identifiers, 0, NULL)));
    ctx->resp->issued_key = EVP_PKEY_get_base_id(X509_REQ_get0_pubkey(req));

    return ACME_OK;
}


#define ACME_SRV_CAA_MAX_AGE   (8 * 3600)   /* CA/B BR 3.2.2.8 */
/* checked again a minute before that: the time to issuance and the
 * rounding of acme_order_t.caa_age stay inside the 8 hours */
#define ACME_SRV_CAA_RECHECK   (ACME_SRV_CAA_MAX_AGE - 60)
#define ACME_SRV_CAA_WAIT      100          /* x 100 ms */


/*
 * CA/B BR 3.2.2.8: CAA is checked within 8 hours before issuance.  The
 * validator checks it when a challenge passes; for an authorization
 * checked longer ago this asks the validator for a fresh check (a "caa"
 * job on the stream) and waits for the result, at most 10 s, in this pool
 * thread.  A refusal invalidates the authorization and the order: caa.
 */
static int
acme_srv_caa_fresh(acme_srv_ctx_t *ctx, acme_order_t *o)
{
    size_t            i, n;
    char            **ids;
    long long         stale, invalid;
    struct timespec   ts;

    /* the order's read says how old its oldest check is (caa_age); when
     * older, or not known: which authorizations are stale */
    if (o->caa_age < ACME_SRV_CAA_RECHECK) {
        return ACME_OK;
    }

    if (acme_pg_order_caa_stale(ctx->pg, o->id, ACME_SRV_CAA_RECHECK, &ids,
                                &n) != ACME_OK)
    {
        return acme_srv_internal(ctx, "CAA freshness: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    for (i = 0; i < n; i++) {
        if (acme_redis_caa_add(ctx->rd, ids[i]) != ACME_OK) {
            acme_pg_strv_free(ids, n);
            return acme_srv_internal(ctx, "CAA recheck: %s",
                                     acme_redis_errmsg(ctx->rd));
        }
    }

    acme_pg_strv_free(ids, n);

    if (n == 0) {
        return ACME_OK;
    }

    ts.tv_sec = 0;
    ts.tv_nsec = 100 * 1000000L;

    for (i = 0; i < ACME_SRV_CAA_WAIT; i++) {
        if (acme_pg_order_caa_state(ctx->pg, o->id, ACME_SRV_CAA_RECHECK,
                                    &stale, &invalid) != ACME_OK)
        {
            return acme_srv_internal(ctx, "CAA freshness: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        if (invalid > 0) {
            return acme_problem_set(&ctx->prob, ACME_PROB_CAA,
                                    "CAA records no longer permit this CA "
                                    "to issue for an identifier of the "
                                    "order; the order is invalid (its "
                                    "error says which)");
        }

        if (stale == 0) {
            return ACME_OK;
        }

        nanosleep(&ts, NULL);
    }

    return acme_problem_set_status(&ctx->prob, ACME_PROB_SERVER_INTERNAL,
                                   503, "the CAA records could not be "
                                   "checked again in time; the order is "
                                   "still ready: try again later");
}


/* RFC 8555 7.4 finalize */
static int
acme_srv_finalize(acme_srv_ctx_t *ctx)
{
    int            rc;
    json_t        *ids, *v, *csr;
    size_t         i, n, der_len;
    X509_REQ      *req;
    acme_order_t   o;
    unsigned char *der;
    size_t         j, nd;
    const char    *d, *domains[16];
    const char    *names[ACME_SRV_MAX_IDENTIFIERS];
    const char    *types[ACME_SRV_MAX_IDENTIFIERS];

    if (acme_srv_load_order(ctx, &o) != ACME_OK) {
        return ACME_ERROR;
    }

    rc = ACME_ERROR;
    ids = NULL;
    der = NULL;
    req = NULL;

    if (strcmp(acme_srv_order_status(&o, time(NULL)), "ready") != 0) {
        acme_problem_set(&ctx->prob, ACME_PROB_ORDER_NOT_READY,
                         "the order is \"%s\", not \"ready\" (RFC 8555 7.4)",
                         acme_srv_order_status(&o, time(NULL)));
        goto done;
    }

    csr = ctx->payload ? json_object_get(ctx->payload, "csr") : NULL;
    if (!json_is_string(csr)) {
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "finalize needs a \"csr\" string");
        goto done;
    }

    der = acme_b64u_decode_alloc(json_string_value(csr),
                                 json_string_length(csr), &der_len);
    if (der == NULL) {
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "\"csr\" is not base64url without padding");
        goto done;
    }

    ids = json_loads(o.identifiers, 0, NULL);
    n = 0;

    json_array_foreach(ids, i, v) {
        if (n < ACME_SRV_MAX_IDENTIFIERS) {
            types[n] = json_string_value(json_object_get(v, "type"));
            names[n++] = json_string_value(json_object_get(v, "value"));
        }
    }

    if (n == 0) {
        acme_srv_internal(ctx, "order %s has no identifiers", o.public_id);
        goto done;
    }

    if (acme_csr_check_idents(der, der_len, types, names, n, ctx->key,
                              ctx->conf->key_types, &req, &ctx->prob)
        != ACME_OK)
    {
        goto done;
    }

    if (acme_srv_caa_fresh(ctx, &o) != ACME_OK) {
        goto done;
    }

    /* certificates_per_domain: one bucket per registered domain */
    nd = 0;

    for (i = 0; i < n && nd < 16; i++) {
        if (strcmp(types[i], "dns") != 0) {
            continue;
        }

        d = acme_srv_reg_domain(names[i]);

        for (j = 0; j < nd && strcmp(domains[j], d) != 0; j++) {
            /* void */
        }

        if (j == nd) {
            domains[nd++] = d;
        }
    }

    if (acme_srv_rate_limit(ctx, ACME_SRV_RL_CERTIFICATE, domains, nd)
        != ACME_OK)
    {
        goto done;
    }

    if (acme_srv_issue(ctx, &o, req, types, names, n) != ACME_OK) {
        goto done;
    }

    rc = ACME_OK;

done:

    free(der);
    json_decref(ids);
    X509_REQ_free(req);

    if (rc == ACME_OK) {
        /* RFC 8555 7.4: the answer is the updated order object (as the
         * statement that made it valid returned it) */
        acme_srv_url(ctx->resp->location, sizeof(ctx->resp->location),
                     ctx->req, "order", o.public_id, NULL);
        rc = acme_srv_order_reply(ctx, &o);
        acme_order_clear(&o);

        return rc;
    }

    acme_order_clear(&o);

    return rc;
}


static int
acme_srv_load_authz(acme_srv_ctx_t *ctx, int chall, acme_authz_t *az)
{
    int   rc;
    char  id[ACME_ID_LEN + 1];

    if (ctx->id_len != ACME_ID_LEN) {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "no such %s",
                                       chall ? "challenge" : "authorization");
    }

    memcpy(id, ctx->id, ACME_ID_LEN);
    id[ACME_ID_LEN] = '\0';

    if (ctx->res.kind == (chall ? ACME_PG_RES_CHALL : ACME_PG_RES_AUTHZ)) {
        /* read with the account (acme_srv_kid); a reload reads afresh */
        rc = ctx->res.rc;
        *az = ctx->res.authz;
        memset(&ctx->res, 0, sizeof(ctx->res));

    } else {
        rc = chall ? acme_pg_chall_get(ctx->pg, id, az)
                   : acme_pg_authz_get(ctx->pg, id, az);
    }

    if (rc == ACME_NOT_FOUND) {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "no such %s",
                                       chall ? "challenge" : "authorization");
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "authorization get: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    if (az->account_id != ctx->acct.id) {
        acme_authz_clear(az);
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "this %s belongs to another account",
                                chall ? "challenge" : "authorization");
    }

    return ACME_OK;
}


/* RFC 8555 7.5 (POST-as-GET), 7.5.2 (deactivation) */
static int
acme_srv_authz(acme_srv_ctx_t *ctx)
{
    int            rc;
    json_t        *v;
    acme_authz_t   az;

    if (acme_srv_load_authz(ctx, 0, &az) != ACME_OK) {
        return ACME_ERROR;
    }

    if (ctx->payload != NULL) {
        v = json_object_get(ctx->payload, "status");

        if (!json_is_string(v)
            || strcmp(json_string_value(v), "deactivated") != 0)
        {
            acme_authz_clear(&az);
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "an authorization accepts only "
                                    "{\"status\": \"deactivated\"} "
                                    "(RFC 8555 7.5.2)");
        }

        rc = acme_pg_authz_deactivate(ctx->pg, az.id);

        if (rc == ACME_CONFLICT) {
            acme_authz_clear(&az);
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "only a pending or valid authorization "
                                    "can be deactivated");
        }

        if (rc != ACME_OK) {
            acme_authz_clear(&az);
            return acme_srv_internal(ctx, "authorization deactivate: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        acme_authz_clear(&az);

        if (acme_srv_load_authz(ctx, 0, &az) != ACME_OK) {
            return ACME_ERROR;
        }
    }

    rc = acme_srv_json(ctx, 200, acme_srv_authz_json(ctx, &az));
    acme_authz_clear(&az);

    return rc;
}


/* RFC 8555 7.5.1: POST {} responds to the challenge; POST-as-GET reads */
static int
acme_srv_chall(acme_srv_ctx_t *ctx)
{
    int            rc, queued;
    int64_t        chall_id;
    acme_authz_t   az;

    if (acme_srv_load_authz(ctx, 1, &az) != ACME_OK) {
        return ACME_ERROR;
    }

    queued = 0;

    if (ctx->payload != NULL) {
        if (!json_is_object(ctx->payload)) {
            acme_authz_clear(&az);
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "a challenge response is the JSON "
                                    "object {}");
        }

        /* ACME_CONFLICT: already started or final; answer its state */
        chall_id = az.challs[0].id;
        acme_authz_clear(&az);

        rc = acme_pg_chall_start(ctx->pg, chall_id, time(NULL), &az);

        if (rc == ACME_ERROR) {
            return acme_srv_internal(ctx, "challenge start: %s",
                                     acme_pg_errmsg(ctx->pg));
        }

        if (rc == ACME_OK) {
            /* a lost job is re-enqueued from PostgreSQL by the validator's
             * stale scan, so a Redis failure here loses nothing */
            queued = acme_redis_job_add(ctx->rd, az.challs[0].public_id)
                     == ACME_OK;

            if (!queued) {
                snprintf(ctx->resp->log, sizeof(ctx->resp->log),
                         "enqueue of challenge %s: %s (the validator's "
                         "stale scan will pick it up)",
                         az.challs[0].public_id,
                         acme_redis_errmsg(ctx->rd));
            }
        }
    }

    acme_srv_url(ctx->resp->link_up, sizeof(ctx->resp->link_up), ctx->req,
                 "authz", az.public_id, NULL);

    /*
     * RFC 8555 7.5.1: Retry-After on polls while the validation runs.  The
     * response that queued it has none: a check usually ends within tens
     * of milliseconds, and "1" would hold an obedient client for a whole
     * second; the client's own first poll interval applies instead.
     */
    if (strcmp(az.challs[0].status, "processing") == 0 && !queued) {
        ctx->resp->retry_after = ACME_SRV_RETRY_AFTER;
    }

    rc = acme_srv_json(ctx, 200, acme_srv_chall_json(ctx, &az.challs[0]));
    acme_authz_clear(&az);

    return rc;
}


/* RFC 8555 7.4.2: the PEM chain, leaf first */
static int
acme_srv_cert(acme_srv_ctx_t *ctx)
{
    int                   rc;
    BIO                  *bio;
    char                  id[ACME_ID_LEN + 1];
    int                   alt;
    char                 *pem, suffix[8];
    long                  len;
    size_t                i, chain_len;
    const char           *chain;
    acme_cert_t           c;

    /* "cert/ID" is the default chain, "cert/ID/N" alternate chain N */
    alt = 0;

    if (ctx->id_len == ACME_ID_LEN + 2 && ctx->id[ACME_ID_LEN] == '/'
        && ctx->id[ACME_ID_LEN + 1] >= '1'
        && (size_t) (ctx->id[ACME_ID_LEN + 1] - '0')
           <= ctx->conf->nalt_chains)
    {
        alt = ctx->id[ACME_ID_LEN + 1] - '0';

    } else if (ctx->id_len != ACME_ID_LEN) {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "no such certificate");
    }

    memcpy(id, ctx->id, ACME_ID_LEN);
    id[ACME_ID_LEN] = '\0';

    if (ctx->res.kind == ACME_PG_RES_CERT) {
        /* read with the account (acme_srv_kid) */
        rc = ctx->res.rc;
        c = ctx->res.cert;
        memset(&ctx->res, 0, sizeof(ctx->res));

    } else {
        rc = acme_pg_cert_get(ctx->pg, id, &c);
    }

    if (rc == ACME_NOT_FOUND || (rc == ACME_OK && c.der == NULL)) {
        acme_cert_clear(&c);
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "no such certificate");
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "certificate get: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    if (c.account_id != ctx->acct.id) {
        acme_cert_clear(&c);
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "this certificate belongs to another "
                                "account");
    }

    /* the stored DER is the one signed: PEM of it as it is (parsing it
     * first, only to encode it again, cost 0.1 ms of OpenSSL 3 decoder
     * lookups per download) */
    bio = BIO_new(BIO_s_mem());

    if (bio == NULL
        || !PEM_write_bio(bio, PEM_STRING_X509, "", c.der, (long) c.der_len))
    {
        BIO_free(bio);
        acme_cert_clear(&c);
        ERR_clear_error();
        return acme_srv_internal(ctx, "certificate %s does not encode", id);
    }

    len = BIO_get_mem_data(bio, &pem);

    /* RFC 8555 7.4.2: the other chains as Link rel="alternate" */
    for (i = 0; i <= ctx->conf->nalt_chains; i++) {
        if (i == (size_t) alt || ctx->resp->nlink_alt == ACME_SRV_ALT_MAX) {
            continue;
        }

        snprintf(suffix, sizeof(suffix), "/%zu", i);
        acme_srv_url(ctx->resp->link_alt[ctx->resp->nlink_alt++],
                     ACME_SRV_URL_MAX, ctx->req, "cert", id,
                     i ? suffix : NULL);
    }

    chain = alt ? ctx->conf->alt_chains[alt - 1] : c.chain;
    chain_len = chain ? strlen(chain) : 0;

    acme_srv_resp_clear(ctx->resp);
    ctx->resp->body = malloc(len + chain_len + 2);

    if (ctx->resp->body == NULL) {
        BIO_free(bio);
        acme_cert_clear(&c);
        return acme_srv_internal(ctx, "out of memory");
    }

    memcpy(ctx->resp->body, pem, len);
    ctx->resp->body_len = len;

    if (chain_len) {
        memcpy(ctx->resp->body + len, chain, chain_len);
        ctx->resp->body_len += chain_len;

        if (chain[chain_len - 1] != '\n') {
            ctx->resp->body[ctx->resp->body_len++] = '\n';
        }
    }

    ctx->resp->body[ctx->resp->body_len] = '\0';
    ctx->resp->status = 200;
    ctx->resp->content_type = "application/pem-certificate-chain";

    BIO_free(bio);
    acme_cert_clear(&c);

    return ACME_OK;
}


/* RFC 5280 5.3.1 reasons a subscriber may give (CA/B BR 7.2.2) */
static int
acme_srv_reason_ok(int reason)
{
    return reason == 0 || reason == 1 || reason == 3 || reason == 4
           || reason == 5 || reason == 9;
}


/* the identifiers a certificate names: dNSName and iPAddress SANs */
static int
acme_srv_cert_idents(X509 *x, char types[][4], char values[][64 + 192],
    size_t max, size_t *n)
{
    int              i;
    char             buf[64];
    size_t           len;
    GENERAL_NAME    *gn;
    GENERAL_NAMES   *san;
    unsigned char   *d;

    *n = 0;
    san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (san == NULL) {
        return ACME_ERROR;
    }

    for (i = 0; i < sk_GENERAL_NAME_num(san) && *n < max; i++) {
        gn = sk_GENERAL_NAME_value(san, i);

        if (gn->type == GEN_DNS) {
            d = (unsigned char *) ASN1_STRING_get0_data(gn->d.dNSName);
            len = ASN1_STRING_length(gn->d.dNSName);

            if (len > ACME_DNS_NAME_MAX) {
                continue;
            }

            /* a wildcard is authorized by the base name's authz */
            if (len > 2 && d[0] == '*' && d[1] == '.') {
                d += 2;
                len -= 2;
            }

            strcpy(types[*n], "dns");
            memcpy(values[*n], d, len);
            values[*n][len] = '\0';
            (*n)++;

        } else if (gn->type == GEN_IPADD) {
            len = ASN1_STRING_length(gn->d.iPAddress);
            d = (unsigned char *) ASN1_STRING_get0_data(gn->d.iPAddress);

            if ((len != 4 && len != 16)
                || inet_ntop(len == 4 ? AF_INET : AF_INET6, d, buf,
                             sizeof(buf)) == NULL)
            {
                continue;
            }

            strcpy(types[*n], "ip");
            strcpy(values[*n], buf);
            (*n)++;
        }
    }

    GENERAL_NAMES_free(san);

    return ACME_OK;
}


/* RFC 8555 7.6 */
static int
acme_srv_revoke(acme_srv_ctx_t *ctx)
{
    int                   rc, reason, ok;
    X509                 *x;
    char                  serial_hex[128], *hex;
    json_t               *v;
    BIGNUM               *bn;
    size_t                i, n, der_len;
    acme_cert_t           c;
    unsigned char        *der;
    const char           *tp[ACME_SRV_MAX_IDENTIFIERS];
    const char           *vp[ACME_SRV_MAX_IDENTIFIERS];
    const unsigned char  *p;
    char                  types[ACME_SRV_MAX_IDENTIFIERS][4];
    char                  values[ACME_SRV_MAX_IDENTIFIERS][64 + 192];

    v = ctx->payload ? json_object_get(ctx->payload, "certificate") : NULL;
    if (!json_is_string(v)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "revokeCert needs a \"certificate\" string");
    }

    reason = 0;
    v = json_object_get(ctx->payload, "reason");

    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) > 10
            || !acme_srv_reason_ok((int) json_integer_value(v)))
        {
            return acme_problem_set(&ctx->prob,
                                    ACME_PROB_BAD_REVOCATION_REASON,
                                    "accepted reason codes are 0, 1, 3, 4, "
                                    "5 and 9 (RFC 5280 5.3.1)");
        }

        reason = (int) json_integer_value(v);
    }

    v = json_object_get(ctx->payload, "certificate");
    der = acme_b64u_decode_alloc(json_string_value(v),
                                 json_string_length(v), &der_len);
    if (der == NULL) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "\"certificate\" is not base64url");
    }

    p = der;
    x = d2i_X509(NULL, &p, (long) der_len);

    if (x == NULL || p != der + der_len) {
        X509_free(x);
        free(der);
        ERR_clear_error();
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "\"certificate\" is not a DER certificate");
    }

    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);

    if (hex == NULL) {
        X509_free(x);
        free(der);
        return acme_srv_internal(ctx, "out of memory");
    }

    /* as stored: lowercase, an even number of digits */
    snprintf(serial_hex, sizeof(serial_hex), "%s%s",
             strlen(hex) % 2 ? "0" : "", hex);
    OPENSSL_free(hex);

    for (i = 0; serial_hex[i]; i++) {
        serial_hex[i] = (char) tolower((unsigned char) serial_hex[i]);
    }

    rc = acme_pg_cert_by_serial(ctx->pg, ctx->conf->ca_name, serial_hex, &c);

    if (rc == ACME_ERROR) {
        X509_free(x);
        free(der);
        return acme_srv_internal(ctx, "certificate lookup: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    /* only our own certificate, byte for byte, not one that merely
     * shares its serial */
    if (rc == ACME_NOT_FOUND || c.der == NULL || c.der_len != der_len
        || memcmp(c.der, der, der_len) != 0)
    {
        X509_free(x);
        free(der);
        acme_cert_clear(&c);
        return acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                       "this CA did not issue that "
                                       "certificate");
    }

    free(der);

    /* RFC 8555 7.6: the issuing account, an account authorized for all
     * its identifiers, or the certificate's own key */
    if (ctx->acct.id == 0) {
        ok = EVP_PKEY_eq(X509_get0_pubkey(x), ctx->key) == 1;
        ERR_clear_error();

    } else if (c.account_id == ctx->acct.id) {
        ok = 1;

    } else {
        ok = 0;

        if (acme_srv_cert_idents(x, types, values, ACME_SRV_MAX_IDENTIFIERS,
                                 &n) == ACME_OK && n > 0)
        {
            for (i = 0; i < n; i++) {
                tp[i] = types[i];
                vp[i] = values[i];
            }

            ok = acme_pg_account_authorized(ctx->pg, ctx->acct.id, tp, vp,
                                            n);
            if (ok == ACME_ERROR) {
                X509_free(x);
                acme_cert_clear(&c);
                return acme_srv_internal(ctx, "authorization check: %s",
                                         acme_pg_errmsg(ctx->pg));
            }
        }
    }

    X509_free(x);

    if (!ok) {
        acme_cert_clear(&c);
        return acme_problem_set(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                "the requester may not revoke this "
                                "certificate (RFC 8555 7.6)");
    }

    rc = acme_pg_cert_revoke(ctx->pg, c.id, reason,
                             ctx->acct.id ? ctx->acct.public_id
                                          : "certificate key");

    if (rc == ACME_CONFLICT) {
        acme_cert_clear(&c);
        return acme_problem_set(&ctx->prob, ACME_PROB_ALREADY_REVOKED,
                                "the certificate is already revoked");
    }

    if (rc != ACME_OK) {
        acme_cert_clear(&c);
        return acme_srv_internal(ctx, "revoke: %s", acme_pg_errmsg(ctx->pg));
    }

    ctx->resp->revoked_reason = reason;
    acme_srv_notice(ctx, json_pack("{s:s, s:s, s:i, s:s}", "event",
                                   "certificate.revoked", "serial", c.serial,
                                   "reason", reason, "by",
                                   ctx->acct.id ? ctx->acct.public_id
                                                : "certificate key"));
    acme_cert_clear(&c);

    acme_srv_resp_clear(ctx->resp);
    ctx->resp->status = 200;

    return ACME_OK;
}


/* the operator's account key policy (acme_server_account_key_types) */
static int
acme_srv_account_key_ok(acme_srv_ctx_t *ctx, EVP_PKEY *key)
{
    int       id;
    unsigned  bit;

    id = EVP_PKEY_get_base_id(key);
    bit = (id == EVP_PKEY_RSA) ? ACME_SRV_ACCOUNT_KEY_RSA
          : (id == EVP_PKEY_EC) ? ACME_SRV_ACCOUNT_KEY_EC
          : (id == EVP_PKEY_ED25519) ? ACME_SRV_ACCOUNT_KEY_ED25519 : 0;

    if (!(ctx->conf->account_key_types & bit)) {
        return acme_problem_set(&ctx->prob, ACME_PROB_BAD_PUBLIC_KEY,
                                "this CA does not accept %s account keys",
                                id == EVP_PKEY_RSA ? "RSA"
                                : id == EVP_PKEY_EC ? "EC" : "Ed25519");
    }

    return ACME_OK;
}


/* RFC 8555 7.3.5 */
static int
acme_srv_key_change(acme_srv_ctx_t *ctx)
{
    int              rc;
    char            *inner_body, *old_canon;
    json_t          *old_jwk, *account;
    EVP_PKEY        *new_key, *old_key;
    acme_jws_t       inner;
    acme_account_t   other, a;
    char             canonical[ACME_JWK_CANONICAL_MAX];
    char             thumb[ACME_THUMBPRINT_LEN + 1];
    char             old_canonical[ACME_JWK_CANONICAL_MAX];
    char             old_thumb[ACME_THUMBPRINT_LEN + 1];
    char             kid[ACME_SRV_URL_MAX];

    if (ctx->payload == NULL) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "keyChange needs a JWS payload");
    }

    inner_body = json_dumps(ctx->payload, JSON_COMPACT);
    if (inner_body == NULL) {
        return acme_srv_internal(ctx, "out of memory");
    }

    new_key = NULL;
    old_key = NULL;
    old_canon = NULL;
    rc = ACME_ERROR;

    if (acme_jws_parse(&inner, inner_body, strlen(inner_body), &ctx->prob)
        != ACME_OK)
    {
        goto done;
    }

    /* the inner JWS: signed by the new key given as "jwk", same "url",
     * no "nonce" */
    if (inner.jwk == NULL) {
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "the inner JWS must carry the new key as \"jwk\"");
        goto done;
    }

    if (inner.nonce != NULL) {
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "the inner JWS must not have a \"nonce\"");
        goto done;
    }

    if (inner.url == NULL || ctx->jws.url == NULL
        || strcmp(inner.url, ctx->jws.url) != 0)
    {
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "the inner JWS \"url\" must equal the outer one");
        goto done;
    }

    if (acme_jwk_import(inner.jwk, &new_key, canonical, &ctx->prob)
        != ACME_OK
        || acme_srv_account_key_ok(ctx, new_key) != ACME_OK
        || acme_jws_verify(&inner, new_key, &ctx->prob) != ACME_OK
        || acme_jwk_thumbprint(canonical, strlen(canonical), thumb)
           != ACME_OK)
    {
        goto done;
    }

    account = NULL;
    old_jwk = NULL;

    if (inner.payload_len) {
        json_t  *ip;

        ip = json_loadb((const char *) inner.payload, inner.payload_len,
                        JSON_REJECT_DUPLICATES, NULL);
        account = ip ? json_incref(json_object_get(ip, "account")) : NULL;
        old_jwk = ip ? json_incref(json_object_get(ip, "oldKey")) : NULL;
        json_decref(ip);
    }

    snprintf(kid, sizeof(kid), "%.*sacct/%s", (int) ctx->req->base_len,
             ctx->req->base_url, ctx->acct.public_id);

    if (!json_is_string(account)
        || strcmp(json_string_value(account), kid) != 0)
    {
        json_decref(account);
        json_decref(old_jwk);
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "the inner payload's \"account\" must be the "
                         "signing account's URL");
        goto done;
    }

    json_decref(account);

    rc = acme_jwk_import(old_jwk, &old_key, old_canonical, &ctx->prob);
    json_decref(old_jwk);

    if (rc != ACME_OK
        || acme_jwk_thumbprint(old_canonical, strlen(old_canonical),
                               old_thumb) != ACME_OK
        || strcmp(old_canonical, ctx->acct.jwk) != 0)
    {
        rc = ACME_ERROR;
        acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                         "\"oldKey\" is not the account's current key");
        goto done;
    }

    rc = ACME_ERROR;

    /* RFC 8555 7.3.5: a key in use by another account -> 409 Conflict
     * with that account's URL */
    if (acme_pg_account_by_thumbprint(ctx->pg, ctx->conf->ca_name, thumb,
                                      &other) == ACME_OK)
    {
        acme_srv_url(ctx->resp->location, sizeof(ctx->resp->location),
                     ctx->req, "acct", other.public_id, NULL);
        acme_account_clear(&other);
        acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 409,
                                "the new key is already in use by an "
                                "account");
        goto done;
    }

    if (acme_pg_account_rekey(ctx->pg, ctx->acct.id, old_thumb, thumb,
                              canonical) != ACME_OK)
    {
        acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 409,
                                "the account key changed concurrently or "
                                "the new key is in use");
        goto done;
    }

    acme_srv_notice(ctx, json_pack("{s:s, s:s, s:s}", "event",
                                   "account.key_rolled", "account",
                                   ctx->acct.public_id, "new_key_thumbprint",
                                   thumb));

    if (acme_pg_account_by_public_id(ctx->pg, ctx->conf->ca_name,
                                     ctx->acct.public_id, &a) != ACME_OK)
    {
        acme_srv_internal(ctx, "account reload: %s",
                          acme_pg_errmsg(ctx->pg));
        goto done;
    }

    rc = acme_srv_account_reply(ctx, 200, &a);
    acme_account_clear(&a);

done:

    acme_jws_clear(&inner);
    EVP_PKEY_free(new_key);
    EVP_PKEY_free(old_key);
    free(inner_body);
    free(old_canon);

    return rc;
}


/* ---------------------------------------------------------------- */
/* request verification (RFC 8555 6.2-6.5) and routing */


typedef enum {
    ACME_SRV_NEW_ACCOUNT,
    ACME_SRV_ACCOUNT,
    ACME_SRV_ACCOUNT_ORDERS,
    ACME_SRV_NEW_ORDER,
    ACME_SRV_ORDER,
    ACME_SRV_FINALIZE,
    ACME_SRV_AUTHZ,
    ACME_SRV_CHALL,
    ACME_SRV_CERT,
    ACME_SRV_REVOKE,
    ACME_SRV_KEY_CHANGE,
    ACME_SRV_DIRECTORY,
    ACME_SRV_NEW_NONCE,
    ACME_SRV_UNKNOWN
} acme_srv_route_e;


static int
acme_srv_prefix(const char *path, size_t len, const char *prefix,
    const char **id, size_t *id_len)
{
    size_t  n;

    n = strlen(prefix);

    if (len <= n || memcmp(path, prefix, n) != 0) {
        return 0;
    }

    *id = path + n;
    *id_len = len - n;

    return 1;
}


static acme_srv_route_e
acme_srv_route(const acme_srv_req_t *req, const char **id, size_t *id_len)
{
    size_t       len;
    const char  *path;

    path = req->path;
    len = req->path_len;
    *id = NULL;
    *id_len = 0;

    if (len == 11 && memcmp(path, "new-account", 11) == 0) {
        return ACME_SRV_NEW_ACCOUNT;
    }

    if (len == 9 && memcmp(path, "new-order", 9) == 0) {
        return ACME_SRV_NEW_ORDER;
    }

    if (len == 11 && memcmp(path, "revoke-cert", 11) == 0) {
        return ACME_SRV_REVOKE;
    }

    if (len == 10 && memcmp(path, "key-change", 10) == 0) {
        return ACME_SRV_KEY_CHANGE;
    }

    /* RFC 8555 6.3: POST-as-GET of the directory and newNonce too */
    if (len == 9 && memcmp(path, "directory", 9) == 0) {
        return ACME_SRV_DIRECTORY;
    }

    if (len == 9 && memcmp(path, "new-nonce", 9) == 0) {
        return ACME_SRV_NEW_NONCE;
    }

    if (acme_srv_prefix(path, len, "acct/", id, id_len)) {
        /* "ID/orders" or "ID/orders/CURSOR" */
        if (*id_len >= ACME_ID_LEN + 7
            && memcmp(*id + ACME_ID_LEN, "/orders", 7) == 0
            && (*id_len == ACME_ID_LEN + 7
                || (*id_len == 2 * ACME_ID_LEN + 8
                    && (*id)[ACME_ID_LEN + 7] == '/')))
        {
            *id_len = ACME_ID_LEN;
            return ACME_SRV_ACCOUNT_ORDERS;
        }

        return ACME_SRV_ACCOUNT;
    }

    if (acme_srv_prefix(path, len, "order/", id, id_len)) {
        if (*id_len > 9 && memcmp(*id + *id_len - 9, "/finalize", 9) == 0) {
            *id_len -= 9;
            return ACME_SRV_FINALIZE;
        }

        return ACME_SRV_ORDER;
    }

    if (acme_srv_prefix(path, len, "authz/", id, id_len)) {
        return ACME_SRV_AUTHZ;
    }

    if (acme_srv_prefix(path, len, "chall/", id, id_len)) {
        return ACME_SRV_CHALL;
    }

    if (acme_srv_prefix(path, len, "cert/", id, id_len)) {
        return ACME_SRV_CERT;
    }

    return ACME_SRV_UNKNOWN;
}


/*
 * The account behind "kid" (RFC 8555 6.2) and its key.  The object the
 * URL names (an order, authorization, challenge or certificate) is read in
 * the same round trip into ctx->res, for its handler to take once (it is
 * looked at only after the request is verified).
 */
static int
acme_srv_kid(acme_srv_ctx_t *ctx, acme_srv_route_e route)
{
    int                    rc;
    char                   rid[ACME_ID_LEN + 1];
    size_t                 n;
    json_t                *jwk;
    const char            *kid, *id;
    acme_pg_res_e          kind;
    acme_srv_tls_t        *t;
    acme_srv_key_entry_t  *e;

    kid = ctx->jws.kid;
    n = strlen(kid);

    /* kid is this CA's account URL */
    if (n != ctx->req->base_len + 5 + ACME_ID_LEN
        || memcmp(kid, ctx->req->base_url, ctx->req->base_len) != 0
        || memcmp(kid + ctx->req->base_len, "acct/", 5) != 0)
    {
        return acme_problem_set(&ctx->prob,
                                ACME_PROB_ACCOUNT_DOES_NOT_EXIST,
                                "\"kid\" is not an account URL of this CA");
    }

    id = kid + ctx->req->base_len + 5;

    kind = ACME_PG_RES_NONE;

    if (ctx->id_len == ACME_ID_LEN
        || (route == ACME_SRV_CERT && ctx->id_len == ACME_ID_LEN + 2))
    {
        kind = (route == ACME_SRV_ORDER || route == ACME_SRV_FINALIZE)
               ? ACME_PG_RES_ORDER
               : (route == ACME_SRV_AUTHZ) ? ACME_PG_RES_AUTHZ
               : (route == ACME_SRV_CHALL) ? ACME_PG_RES_CHALL
               : (route == ACME_SRV_CERT) ? ACME_PG_RES_CERT
               : ACME_PG_RES_NONE;
    }

    rid[0] = '\0';

    if (kind != ACME_PG_RES_NONE) {
        memcpy(rid, ctx->id, ACME_ID_LEN);
        rid[ACME_ID_LEN] = '\0';
    }

    rc = acme_pg_account_with(ctx->pg, ctx->conf->ca_name, id, kind, rid,
                              &ctx->acct, &ctx->res);
    if (rc == ACME_NOT_FOUND) {
        return acme_problem_set(&ctx->prob,
                                ACME_PROB_ACCOUNT_DOES_NOT_EXIST,
                                "no account at \"kid\"");
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "account get: %s",
                                 acme_pg_errmsg(ctx->pg));
    }

    /* the imported key is kept per thread: importing costs as much as
     * verifying; the stored JWK text confirms a hit (keyChange) */
    t = acme_srv_tls();
    e = t ? &t->keys[(uint64_t) ctx->acct.id % ACME_SRV_KEY_CACHE] : NULL;

    if (e && e->id == ctx->acct.id && e->jwk
        && strcmp(e->jwk, ctx->acct.jwk) == 0
        && EVP_PKEY_up_ref(e->key) == 1)
    {
        ctx->key = e->key;
        return ACME_OK;
    }

    jwk = json_loads(ctx->acct.jwk, 0, NULL);
    rc = acme_jwk_import(jwk, &ctx->key, NULL, &ctx->prob);
    json_decref(jwk);

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "stored key of account %s: %s",
                                 ctx->acct.public_id, ctx->prob.detail);
    }

    if (e && EVP_PKEY_up_ref(ctx->key) == 1) {
        free(e->jwk);
        EVP_PKEY_free(e->key);
        e->id = ctx->acct.id;
        e->key = ctx->key;
        e->jwk = strdup(ctx->acct.jwk);
    }

    return ACME_OK;
}


/*
 * RFC 8555 6.5: the nonce is checked and spent before anything else is
 * looked at, so that a nonce that appeared in a request is spent even if
 * the request fails later (a bad signature included).
 */
static int
acme_srv_spend_nonce(acme_srv_ctx_t *ctx)
{
    int          rc;
    size_t       i, len;
    time_t       now, minted;
    const char  *n;

    now = time(NULL);
    n = ctx->jws.nonce;

    if (n == NULL) {
        return acme_problem_set(&ctx->prob, ACME_PROB_BAD_NONCE,
                                "the JWS has no \"nonce\"");
    }

    /* RFC 8555 6.5.2: a nonce that is not base64url (of at least one
     * octet) is malformed */
    len = strlen(n);

    if (len == 0) {
        return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                "the JWS \"nonce\" is empty");
    }

    for (i = 0; i < len; i++) {
        if (!(isalnum((unsigned char) n[i]) || n[i] == '-' || n[i] == '_')) {
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "the JWS \"nonce\" is not base64url");
        }
    }

    if (acme_nonce_check(ctx->conf->nonce_key, ctx->jws.nonce,
                         strlen(ctx->jws.nonce), now,
                         ctx->conf->nonce_lifetime, &minted) != ACME_OK)
    {
        return acme_problem_set(&ctx->prob, ACME_PROB_BAD_NONCE,
                                "the nonce was not issued by this server or "
                                "has expired");
    }

    rc = acme_redis_nonce_spend(ctx->rd, ctx->jws.nonce,
                                strlen(ctx->jws.nonce), minted,
                                (int) ctx->conf->nonce_lifetime + 120, now);
    if (rc == ACME_CONFLICT) {
        return acme_problem_set(&ctx->prob, ACME_PROB_BAD_NONCE,
                                "the nonce has already been used");
    }

    if (rc == ACME_NOT_FOUND) {
        return acme_problem_set(&ctx->prob, ACME_PROB_BAD_NONCE,
                                "the nonce predates the server's nonce "
                                "store; retry with the nonce of this "
                                "response");
    }

    if (rc != ACME_OK) {
        return acme_srv_internal(ctx, "nonce spend: %s",
                                 acme_redis_errmsg(ctx->rd));
    }

    return ACME_OK;
}


static int
acme_srv_verify(acme_srv_ctx_t *ctx, acme_srv_route_e route)
{
    size_t         url_len;
    json_error_t   err;

    if (acme_jws_parse(&ctx->jws, ctx->req->body, ctx->req->body_len,
                       &ctx->prob) != ACME_OK)
    {
        return ACME_ERROR;
    }

    if (acme_srv_spend_nonce(ctx) != ACME_OK) {
        return ACME_ERROR;
    }

    /* RFC 8555 6.2: newAccount is signed with "jwk", revokeCert with
     * either (7.6), everything else with "kid" */
    if (route == ACME_SRV_NEW_ACCOUNT
        || (route == ACME_SRV_REVOKE && ctx->jws.jwk != NULL))
    {
        if (ctx->jws.jwk == NULL) {
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "newAccount must be signed with \"jwk\", "
                                    "not \"kid\" (RFC 8555 7.3)");
        }

        if (acme_jwk_import(ctx->jws.jwk, &ctx->key, ctx->canonical,
                            &ctx->prob) != ACME_OK
            || acme_jwk_thumbprint(ctx->canonical, strlen(ctx->canonical),
                                   ctx->thumbprint) != ACME_OK)
        {
            return ACME_ERROR;
        }

        if (route == ACME_SRV_NEW_ACCOUNT
            && acme_srv_account_key_ok(ctx, ctx->key) != ACME_OK)
        {
            return ACME_ERROR;
        }

    } else {
        if (ctx->jws.kid == NULL) {
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "this request must be signed with "
                                    "\"kid\", not \"jwk\" (RFC 8555 6.2)");
        }

        if (acme_srv_kid(ctx, route) != ACME_OK) {
            return ACME_ERROR;
        }
    }

    if (acme_jws_verify(&ctx->jws, ctx->key, &ctx->prob) != ACME_OK) {
        return ACME_ERROR;
    }

    /* RFC 8555 6.4: "url" equals the request URL */
    url_len = ctx->req->base_len + ctx->req->path_len;

    if (ctx->jws.url == NULL || strlen(ctx->jws.url) != url_len
        || memcmp(ctx->jws.url, ctx->req->base_url, ctx->req->base_len) != 0
        || memcmp(ctx->jws.url + ctx->req->base_len, ctx->req->path,
                  ctx->req->path_len) != 0)
    {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                       403, "the JWS \"url\" is not the "
                                       "URL of this request (RFC 8555 "
                                       "6.4)");
    }

    /* RFC 8555 7.3.6: a deactivated account can do nothing more: 401 */
    if (ctx->acct.id && strcmp(ctx->acct.status, "valid") != 0) {
        return acme_problem_set_status(&ctx->prob, ACME_PROB_UNAUTHORIZED,
                                       401, "account is %s",
                                       ctx->acct.status);
    }

    /* RFC 8555 6.3: an empty payload is POST-as-GET */
    if (ctx->jws.payload_len > 0) {
        ctx->payload = json_loadb((const char *) ctx->jws.payload,
                                  ctx->jws.payload_len,
                                  JSON_REJECT_DUPLICATES, &err);
        if (ctx->payload == NULL) {
            return acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                    "JWS payload is not JSON: %s", err.text);
        }
    }

    return ACME_OK;
}


void
acme_srv_handle_post(const acme_srv_conf_t *conf, const acme_srv_req_t *req,
    acme_srv_resp_t *resp)
{
    int               rc;
    acme_srv_ctx_t   *ctx;
    acme_srv_route_e  route;

    memset(resp, 0, sizeof(*resp));

    ctx = calloc(1, sizeof(acme_srv_ctx_t));
    if (ctx == NULL) {
        acme_srv_problem(resp, ACME_PROB_SERVER_INTERNAL, 500,
                         "out of memory");
        snprintf(resp->log, sizeof(resp->log), "out of memory");
        return;
    }

    ctx->conf = conf;
    ctx->req = req;
    ctx->resp = resp;

    route = acme_srv_route(req, &ctx->id, &ctx->id_len);

    resp->revoked_reason = -1;
    resp->resource = (route == ACME_SRV_NEW_ACCOUNT) ? ACME_SRV_R_NEW_ACCOUNT
        : (route == ACME_SRV_ACCOUNT || route == ACME_SRV_ACCOUNT_ORDERS)
          ? ACME_SRV_R_ACCOUNT
        : (route == ACME_SRV_NEW_ORDER) ? ACME_SRV_R_NEW_ORDER
        : (route == ACME_SRV_ORDER) ? ACME_SRV_R_ORDER
        : (route == ACME_SRV_FINALIZE) ? ACME_SRV_R_FINALIZE
        : (route == ACME_SRV_AUTHZ) ? ACME_SRV_R_AUTHZ
        : (route == ACME_SRV_CHALL) ? ACME_SRV_R_CHALLENGE
        : (route == ACME_SRV_CERT) ? ACME_SRV_R_CERTIFICATE
        : (route == ACME_SRV_REVOKE) ? ACME_SRV_R_REVOKE
        : (route == ACME_SRV_KEY_CHANGE) ? ACME_SRV_R_KEY_CHANGE
        : (route == ACME_SRV_DIRECTORY) ? ACME_SRV_R_DIRECTORY
        : (route == ACME_SRV_NEW_NONCE) ? ACME_SRV_R_NEW_NONCE
        : ACME_SRV_R_OTHER;

    if (route == ACME_SRV_UNKNOWN) {
        acme_problem_set_status(&ctx->prob, ACME_PROB_MALFORMED, 404,
                                "no such resource");
        rc = ACME_ERROR;
        goto done;
    }

    ctx->pg = acme_srv_pg(conf);
    ctx->rd = acme_srv_redis(conf);

    if (ctx->pg == NULL || ctx->rd == NULL) {
        rc = acme_srv_internal(ctx, "out of memory for connections");
        goto done;
    }

    if (acme_pg_ensure(ctx->pg) != ACME_OK) {
        /* an outage, not a fault of the request: 503 with Retry-After */
        rc = acme_srv_internal(ctx, "database: %s", acme_pg_errmsg(ctx->pg));
        ctx->prob.status = 503;
        goto done;
    }

    rc = acme_srv_verify(ctx, route);
    if (rc != ACME_OK) {
        goto done;
    }

    switch (route) {

    case ACME_SRV_NEW_ACCOUNT:
        rc = acme_srv_new_account(ctx);
        break;

    case ACME_SRV_ACCOUNT:
        rc = acme_srv_account(ctx, 0);
        break;

    case ACME_SRV_ACCOUNT_ORDERS:
        rc = acme_srv_account(ctx, 1);
        break;

    case ACME_SRV_NEW_ORDER:
        rc = ctx->payload ? acme_srv_new_order(ctx)
                          : acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                             "newOrder needs a payload");
        break;

    case ACME_SRV_ORDER:
        rc = acme_srv_order(ctx);
        break;

    case ACME_SRV_FINALIZE:
        rc = acme_srv_finalize(ctx);
        break;

    case ACME_SRV_AUTHZ:
        rc = acme_srv_authz(ctx);
        break;

    case ACME_SRV_CHALL:
        rc = acme_srv_chall(ctx);
        break;

    case ACME_SRV_CERT:
        rc = acme_srv_cert(ctx);
        break;

    case ACME_SRV_REVOKE:
        rc = acme_srv_revoke(ctx);
        break;

    case ACME_SRV_KEY_CHANGE:
        rc = acme_srv_key_change(ctx);
        break;

    case ACME_SRV_DIRECTORY:
    case ACME_SRV_NEW_NONCE:
        if (ctx->payload != NULL) {
            rc = acme_problem_set(&ctx->prob, ACME_PROB_MALFORMED,
                                  "the directory and newNonce take only "
                                  "POST-as-GET (an empty payload)");
            break;
        }

        if (route == ACME_SRV_NEW_NONCE) {
            /* RFC 8555 7.2: the nonce is in the Replay-Nonce header */
            resp->status = 200;
            rc = ACME_OK;
            break;
        }

        acme_srv_resp_clear(resp);
        resp->body = acme_srv_directory(conf, req->base_url, req->base_len);

        if (resp->body == NULL) {
            rc = acme_srv_internal(ctx, "out of memory");
            break;
        }

        resp->body_len = strlen(resp->body);
        resp->status = 200;
        resp->content_type = "application/json";
        rc = ACME_OK;
        break;

    default:
        rc = acme_srv_internal(ctx, "unhandled route");
        break;
    }

done:

    if (rc != ACME_OK) {
        acme_srv_resp_problem(resp, &ctx->prob);
        resp->problem = ctx->prob.type;
    }

    json_decref(ctx->payload);
    acme_jws_clear(&ctx->jws);
    EVP_PKEY_free(ctx->key);
    acme_account_clear(&ctx->acct);
    acme_pg_res_clear(&ctx->res);
    free(ctx);

    ERR_clear_error();
}


static void
acme_srv_ready_check(json_t *checks, const char *name, int ok, long us,
    const char *error)
{
    json_t  *c;

    c = json_pack("{s:b, s:f}", "ok", ok, "ms", us / 1000.0);

    if (c && error) {
        json_object_set_new(c, "error", json_string(error));
    }

    json_object_set_new(checks, name, c);
}


static long
acme_srv_since_us(const struct timespec *t0)
{
    struct timespec  t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);

    return (t1.tv_sec - t0->tv_sec) * 1000000L
           + (t1.tv_nsec - t0->tv_nsec) / 1000;
}


void
acme_srv_ready(const acme_srv_conf_t *conf, acme_srv_resp_t *resp)
{
    int               ok, all;
    char              err[512];
    json_t           *o, *checks;
    time_t            beat;
    acme_pg_t        *pg;
    acme_redis_t     *rd;
    struct timespec   t0;

    memset(resp, 0, sizeof(*resp));
    resp->revoked_reason = -1;
    resp->resource = ACME_SRV_R_OTHER;

    checks = json_object();
    if (checks == NULL) {
        acme_srv_problem(resp, ACME_PROB_SERVER_INTERNAL, 500,
                         "out of memory");
        return;
    }

    all = 1;

    /* only this thread's connections are checked: the ones requests use */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pg = acme_srv_pg(conf);
    ok = pg != NULL && acme_pg_ping(pg) == ACME_OK;
    acme_srv_ready_check(checks, "postgresql", ok, acme_srv_since_us(&t0),
                         ok ? NULL : "unreachable");
    all &= ok;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rd = acme_srv_redis(conf);
    ok = rd != NULL && acme_redis_health(rd, &beat) == ACME_OK;
    acme_srv_ready_check(checks, "redis", ok, acme_srv_since_us(&t0),
                         ok ? NULL : "unreachable");
    all &= ok;

    ok = ok && beat != 0 && time(NULL) - beat <= 30;
    acme_srv_ready_check(checks, "validator", ok, 0,
                         ok ? NULL : "no validator heartbeat in 30 s");
    all &= ok;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ok = acme_srv_signer(conf, err, sizeof(err)) != NULL;
    acme_srv_ready_check(checks, "pkcs11", ok, acme_srv_since_us(&t0),
                         ok ? NULL : "token key unavailable");
    all &= ok;

    if (!ok) {
        snprintf(resp->log, sizeof(resp->log), "readiness: signer: %.400s",
                 err);
    }

    o = json_pack("{s:s, s:o}", "status", all ? "ready" : "unavailable",
                  "checks", checks);

    resp->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))
                   : NULL;
    json_decref(o);

    resp->status = all ? 200 : 503;
    resp->content_type = "application/json";
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}


void
acme_srv_policy_loaded(const acme_srv_conf_t *conf, const char *conf_sha256,
    long pid, acme_srv_resp_t *resp)
{
    char       *s;
    json_t     *d;
    acme_pg_t  *pg;

    memset(resp, 0, sizeof(*resp));
    resp->revoked_reason = -1;

    d = json_pack("{s:s, s:I, s:b, s:b, s:i}",
                  "config_sha256", conf_sha256, "pid", (json_int_t) pid,
                  "eab_required", conf->eab == ACME_SRV_EAB_REQUIRED,
                  "terms_of_service", conf->tos_url != NULL,
                  "certificate_lifetime", (int) conf->cert_lifetime);
    s = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);

    pg = acme_srv_pg(conf);

    if (s == NULL || pg == NULL
        || acme_pg_audit(pg, conf->ca_name, "policy.loaded", NULL, s)
           != ACME_OK)
    {
        snprintf(resp->log, sizeof(resp->log), "audit of policy load: %s",
                 (s && pg) ? acme_pg_errmsg(pg) : "out of memory");

    } else {
        snprintf(resp->notice, sizeof(resp->notice),
                 "audit {\"event\":\"policy.loaded\",\"ca\":\"%.200s\","
                 "\"detail\":%.600s}", conf->ca_name, s);
    }

    free(s);
}
