/*
 * Copyright (C) nginx-acme-server authors
 *
 * The ACME server's resources (RFC 8555 7) as plain C: the nginx glue
 * hands a request over and sends back what this layer fills in.  It uses
 * the core, the storage and the signer; it knows no nginx type.
 * acme_srv_handle_post() blocks (PostgreSQL, Redis, PKCS#11) and runs in
 * an nginx thread-pool task; the other functions are pure CPU and may run
 * on the event loop.
 */

#ifndef ACME_SRV_H
#define ACME_SRV_H

#include <time.h>
#include <stddef.h>
#include "../acme/acme_core.h"
#include "../acme/acme_nonce.h"
#include "../acme/acme_policy.h"


#define ACME_SRV_CHALL_HTTP01     0x01
#define ACME_SRV_CHALL_DNS01      0x02
#define ACME_SRV_CHALL_TLSALPN01  0x04

#define ACME_SRV_IDENT_DNS        0x01
#define ACME_SRV_IDENT_IP         0x02

#define ACME_SRV_EKU_SERVER       0x01
#define ACME_SRV_EKU_CLIENT       0x02

#define ACME_SRV_ACCOUNT_KEY_RSA      0x01
#define ACME_SRV_ACCOUNT_KEY_EC       0x02
#define ACME_SRV_ACCOUNT_KEY_ED25519  0x04

#define ACME_SRV_EAB_OFF          0
#define ACME_SRV_EAB_OPTIONAL     1
#define ACME_SRV_EAB_REQUIRED     2


/* rate limits (issue 5; DESIGN.md "Policy, rate limits and reload") */
enum {
    ACME_SRV_RL_NEW_ACCOUNT = 0,      /* new accounts per client IP */
    ACME_SRV_RL_NEW_ORDER,            /* new orders per account */
    ACME_SRV_RL_CERTIFICATE,          /* certificates per domain */
    ACME_SRV_RL_GCRA_MAX
};

typedef struct {
    long long       interval_ms;     /* GCRA emission interval; 0: off */
    long long       burst;
} acme_srv_rate_t;


/* one CA: everything an "acme_server on;" location configures.  Owned by
 * the glue (configuration pool); read-only while requests run. */
typedef struct {
    const char     *ca_name;         /* isolates accounts between CAs */
    const char     *conninfo;        /* libpq conninfo or URI */
    const char     *redis_host;      /* name, address or /unix/path */
    int             redis_port;
    const char     *chain_pem;       /* issuer chain, PEM, issuer first */
    const char *const *alt_chains;   /* alternate issuer chains, PEM */
    size_t          nalt_chains;     /* at most ACME_SRV_ALT_MAX */
    const char     *pkcs11_module;   /* path of the PKCS#11 module */
    const char     *key_uri;         /* RFC 7512 URI of the CA key */
    const char     *pin;             /* token user PIN */
    unsigned char   nonce_key[ACME_NONCE_KEY_LEN];
    time_t          cert_lifetime;   /* seconds */
    time_t          order_lifetime;  /* seconds */
    time_t          authz_lifetime;  /* seconds */
    time_t          nonce_lifetime;  /* seconds */
    unsigned        key_types;       /* ACME_KEY_* accepted in CSRs */
    unsigned        account_key_types;  /* ACME_SRV_ACCOUNT_KEY_* */
    int             authz_reuse;     /* seconds; 0: no reuse */
    unsigned        challenges;      /* ACME_SRV_CHALL_* offered */
    unsigned        ident_types;     /* ACME_SRV_IDENT_* accepted */
    acme_policy_t   policy;          /* allowed and denied identifiers */
    unsigned        eku;             /* ACME_SRV_EKU_* in certificates */
    const char     *crl_url;         /* CRL distribution point or NULL */
    const char     *issuer_url;      /* AIA caIssuers URL or NULL */
    const char     *tos_url;         /* terms of service URL or NULL */
    int             require_contact; /* newAccount needs a contact */
    int             eab;             /* ACME_SRV_EAB_* */
    acme_srv_rate_t rate[ACME_SRV_RL_GCRA_MAX];
    long long       max_pending_authz;      /* per account; 0: off */
    long long       max_failed_validations; /* per identifier; 0: off */
    int             failed_window;          /* seconds */
    const acme_cidr_t  *rl_exempt_ips;
    size_t              rl_nexempt_ips;
    int             timeout_ms;      /* Redis command timeout */
} acme_srv_conf_t;

typedef struct {
    const char     *base_url;        /* "https://host/acme/", slash-ended */
    size_t          base_len;
    const char     *path;            /* after the location prefix */
    size_t          path_len;
    const char     *body;
    size_t          body_len;
    const char     *client_ip;       /* text, NUL-terminated */
} acme_srv_req_t;

#define ACME_SRV_URL_MAX  1024
#define ACME_SRV_ALT_MAX  4

/* the resource a response was for (metrics labels) */
typedef enum {
    ACME_SRV_R_DIRECTORY = 0,
    ACME_SRV_R_NEW_NONCE,
    ACME_SRV_R_NEW_ACCOUNT,
    ACME_SRV_R_ACCOUNT,
    ACME_SRV_R_NEW_ORDER,
    ACME_SRV_R_ORDER,
    ACME_SRV_R_FINALIZE,
    ACME_SRV_R_AUTHZ,
    ACME_SRV_R_CHALLENGE,
    ACME_SRV_R_CERTIFICATE,
    ACME_SRV_R_REVOKE,
    ACME_SRV_R_KEY_CHANGE,
    ACME_SRV_R_OTHER,
    ACME_SRV_R_MAX
} acme_srv_resource_e;

/* resource names as metrics labels, indexed by acme_srv_resource_e */
extern const char  *acme_srv_resource_names[ACME_SRV_R_MAX];

typedef struct {
    int             status;          /* HTTP status */
    const char     *content_type;    /* static string */
    char           *body;            /* malloc'ed, caller frees */
    size_t          body_len;
    char            location[ACME_SRV_URL_MAX];     /* "" when none */
    char            link_up[ACME_SRV_URL_MAX];      /* rel="up", "" */
    char            link_next[ACME_SRV_URL_MAX];    /* rel="next", "" */
    char            link_alt[ACME_SRV_ALT_MAX][ACME_SRV_URL_MAX];
    size_t          nlink_alt;       /* rel="alternate" links */
    int             retry_after;     /* seconds, 0 when none */
    char            log[512];        /* internal failure for the error log */
    char            notice[1024];    /* "audit {JSON}" for the NOTICE log */

    /* what happened, for metrics (all 0 / -1 when nothing) */
    int             resource;        /* acme_srv_resource_e */
    int             problem;         /* acme_prob_e of a problem answer */
    int             issued_key;      /* EVP_PKEY base id of an issued cert */
    int             revoked_reason;  /* -1: nothing revoked */
    int             rate_limit;      /* limit refused + 1, or 0 */
    int             order_created;
    long            sign_us;         /* time spent signing, microseconds */
} acme_srv_resp_t;


/*
 * acme_srv_handle_post(): verifies the JWS of a POST (RFC 8555 6.2-6.5:
 * parse, jwk/kid, alg, signature, nonce, url) and runs the resource named
 * by req->path: "new-account", "acct/ID", "acct/ID/orders[/CURSOR]",
 * "new-order", "revoke-cert", "key-change",
 * "order/ID", "order/ID/finalize", "authz/ID", "chall/ID", "cert/ID".
 * Always fills *resp (a problem document on any failure; resp->log then
 * says why for the operator when the fault is ours).  Blocking.
 */
void acme_srv_handle_post(const acme_srv_conf_t *conf,
    const acme_srv_req_t *req, acme_srv_resp_t *resp);

/*
 * acme_srv_directory(): the RFC 8555 7.1.1 directory object of the CA conf
 * for base_url (len bytes), with "meta" (termsOfService,
 * externalAccountRequired), as a new malloc'ed NUL-terminated JSON string
 * (caller frees), NULL on allocation failure.
 */
char *acme_srv_directory(const acme_srv_conf_t *conf, const char *base_url,
    size_t len);

/*
 * acme_srv_nonce(): a fresh Replay-Nonce (RFC 8555 6.5.1) into out
 * (ACME_NONCE_LEN + 1 bytes).  No I/O.  ACME_OK or ACME_ERROR.
 */
int acme_srv_nonce(const acme_srv_conf_t *conf, char *out);

/*
 * acme_srv_problem(): fills *resp with a problem document (for failures
 * the glue detects itself: method, Content-Type, size).  type is an
 * acme_prob_e.
 */
void acme_srv_problem(acme_srv_resp_t *resp, int type, int status,
    const char *detail);

/*
 * acme_srv_ready(): readiness of this worker for conf (blocking): a
 * PostgreSQL round trip, Redis PING and the validators' heartbeat (within
 * 30 s), and the PKCS#11 token's key.  Fills resp with 200 or 503 and a
 * JSON body {"status", "checks": {name: {"ok", "ms", "error"?}}}.
 */
void acme_srv_ready(const acme_srv_conf_t *conf, acme_srv_resp_t *resp);

/*
 * acme_srv_policy_loaded(): records that this worker process (pid) put
 * the CA's configuration in force: a "policy.loaded" audit event with the
 * configuration file's SHA-256 (conf_sha256, hex), so that every reload
 * that changed policy can be traced (issue 8).  Blocking; errors go to
 * resp->log.
 */
void acme_srv_policy_loaded(const acme_srv_conf_t *conf,
    const char *conf_sha256, long pid, acme_srv_resp_t *resp);

/* frees resp->body */
void acme_srv_resp_clear(acme_srv_resp_t *resp);

/* drops this thread's connections (thread exit or reload) */
void acme_srv_thread_cleanup(void);


#endif /* ACME_SRV_H */
