/*
 * Copyright (C) nginx-acme-server authors
 *
 * ngx_http_acme_server_module: an ACME (RFC 8555) certificate authority
 * inside nginx.  This file is the glue: directives, routing, request
 * bodies, the thread-pool hand-off and the HTTP response.  The resources
 * themselves are in src/server/acme_srv.c, which knows no nginx type.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <dlfcn.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

#include "acme/acme_problem.h"
#include "acme/acme_csr.h"
#include "server/acme_srv.h"
#include "ngx_http_acme_server_metrics.h"


#if !(NGX_THREADS)
#error ngx_http_acme_server_module needs nginx built --with-threads
#endif


typedef struct {
    ngx_flag_t             enable;
    ngx_flag_t             ready;
    ngx_str_t              database;
    ngx_str_t              redis;
    ngx_str_t              ca_certificate;
    ngx_str_t              ca_key;
    ngx_str_t              pkcs11_module;
    ngx_str_t              pkcs11_pin_file;
    ngx_str_t              nonce_key_file;
    ngx_str_t              thread_pool_name;
    time_t                 certificate_lifetime;
    time_t                 order_lifetime;
    time_t                 authz_lifetime;
    time_t                 nonce_lifetime;
    size_t                 max_body;
    ngx_uint_t             challenges;
    ngx_uint_t             identifiers;
    ngx_uint_t             eku;
    ngx_uint_t             key_types;
    ngx_uint_t             account_key_types;
    time_t                 authz_reuse;
    ngx_uint_t             eab;
    ngx_flag_t             require_contact;
    ngx_str_t              terms_of_service;
    ngx_str_t              crl_url;
    ngx_str_t              issuer_url;
    ngx_array_t           *rl_exempt;
    ngx_array_t           *alt_chains;
    ngx_flag_t             rl_set;
    ngx_array_t           *allow_names;
    ngx_array_t           *deny_names;
    ngx_array_t           *allow_ips;
    ngx_array_t           *deny_ips;
    ngx_thread_pool_t     *thread_pool;
    ngx_str_t              location;
    acme_srv_conf_t        srv;
} ngx_http_acme_server_loc_conf_t;


/* every "acme_server on" location, for the work each worker does once */
typedef struct {
    ngx_array_t            cas;      /* ngx_http_acme_server_loc_conf_t * */
    u_char                 conf_sha256[65];
} ngx_http_acme_server_main_conf_t;


/* what a thread task carries: its own copies, no pool calls in the thread */
typedef struct {
    acme_srv_conf_t       *conf;
    acme_srv_req_t         req;
    acme_srv_resp_t        resp;
    ngx_event_t            wait;
    const char            *conf_sha256;   /* the policy audit task only */
} ngx_http_acme_server_task_ctx_t;


/*
 * A graceful shutdown (nginx -s reload, -s quit) lets a worker exit as soon
 * as no timer is left (ngx_event_no_timers_left()): a task in the thread
 * pool has none, so the worker would exit with it running and its request
 * unanswered.  This timer, armed while the task runs, keeps the worker.
 */
static void
ngx_http_acme_server_wait_handler(ngx_event_t *ev)
{
    ngx_add_timer(ev, 1000);
}


static void
ngx_http_acme_server_wait(ngx_http_request_t *r,
    ngx_http_acme_server_task_ctx_t *ctx)
{
    ctx->wait.handler = ngx_http_acme_server_wait_handler;
    ctx->wait.data = r;
    ctx->wait.log = r->connection->log;
    ngx_add_timer(&ctx->wait, 1000);
}


static ngx_int_t ngx_http_acme_server_init_process(ngx_cycle_t *cycle);
static void *ngx_http_acme_server_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_acme_server_read_file(ngx_conf_t *cf,
    const char *directive, ngx_str_t *name, ngx_str_t *out);
static void ngx_http_acme_server_policy_thread(void *data, ngx_log_t *log);
static void ngx_http_acme_server_policy_done(ngx_event_t *ev);
static ngx_int_t ngx_http_acme_server_handler(ngx_http_request_t *r);
static void ngx_http_acme_server_body_handler(ngx_http_request_t *r);
static void ngx_http_acme_server_thread(void *data, ngx_log_t *log);
static void ngx_http_acme_server_done(ngx_event_t *ev);
static ngx_int_t ngx_http_acme_server_send(ngx_http_request_t *r,
    ngx_http_acme_server_loc_conf_t *alcf, acme_srv_resp_t *resp);
static ngx_int_t ngx_http_acme_server_send_problem(ngx_http_request_t *r,
    ngx_http_acme_server_loc_conf_t *alcf, acme_prob_e type,
    ngx_uint_t status, const char *detail);
static ngx_int_t ngx_http_acme_server_base_url(ngx_http_request_t *r,
    ngx_http_acme_server_loc_conf_t *alcf, ngx_str_t *base);
static void *ngx_http_acme_server_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_acme_server_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_acme_server(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_server_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_server_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_server_ready(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_acme_server_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_acme_server_ready_handler(ngx_http_request_t *r);
static void ngx_http_acme_server_ready_thread(void *data, ngx_log_t *log);
static char *ngx_http_acme_server_rate_limit(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_acme_server_values(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_server_reuse(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/*
 * Bit 0 is NGX_CONF_BITMASK_SET, so each value is the core's bit shifted
 * left by one: the merged mask shifted right is what the core takes.
 */
static ngx_conf_bitmask_t  ngx_http_acme_server_challenge_types[] = {
    { ngx_string("http-01"), ACME_SRV_CHALL_HTTP01 << 1 },
    { ngx_string("dns-01"), ACME_SRV_CHALL_DNS01 << 1 },
    { ngx_string("tls-alpn-01"), ACME_SRV_CHALL_TLSALPN01 << 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_bitmask_t  ngx_http_acme_server_identifier_types[] = {
    { ngx_string("dns"), ACME_SRV_IDENT_DNS << 1 },
    { ngx_string("ip"), ACME_SRV_IDENT_IP << 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_bitmask_t  ngx_http_acme_server_eku_types[] = {
    { ngx_string("serverAuth"), ACME_SRV_EKU_SERVER << 1 },
    { ngx_string("clientAuth"), ACME_SRV_EKU_CLIENT << 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_bitmask_t  ngx_http_acme_server_key_types[] = {
    { ngx_string("rsa"), ACME_KEY_RSA << 1 },
    { ngx_string("p256"), ACME_KEY_P256 << 1 },
    { ngx_string("p384"), ACME_KEY_P384 << 1 },
    { ngx_string("ed25519"), ACME_KEY_ED25519 << 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_bitmask_t  ngx_http_acme_server_account_key_types[] = {
    { ngx_string("rsa"), ACME_SRV_ACCOUNT_KEY_RSA << 1 },
    { ngx_string("ec"), ACME_SRV_ACCOUNT_KEY_EC << 1 },
    { ngx_string("ed25519"), ACME_SRV_ACCOUNT_KEY_ED25519 << 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_acme_server_eab_modes[] = {
    { ngx_string("off"), ACME_SRV_EAB_OFF },
    { ngx_string("optional"), ACME_SRV_EAB_OPTIONAL },
    { ngx_string("required"), ACME_SRV_EAB_REQUIRED },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_acme_server_commands[] = {

    { ngx_string("acme_server"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_acme_server,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, enable),
      NULL },

    { ngx_string("acme_server_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_acme_server_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("acme_server_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_acme_server_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("acme_server_ready"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_acme_server_ready,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("acme_server_database"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, database),
      NULL },

    { ngx_string("acme_server_redis"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, redis),
      NULL },

    { ngx_string("acme_server_ca_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, ca_certificate),
      NULL },

    { ngx_string("acme_server_ca_alternate_chain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, alt_chains),
      NULL },

    { ngx_string("acme_server_ca_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, ca_key),
      NULL },

    { ngx_string("acme_server_pkcs11_module"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, pkcs11_module),
      NULL },

    { ngx_string("acme_server_pkcs11_pin_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, pkcs11_pin_file),
      NULL },

    { ngx_string("acme_server_nonce_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, nonce_key_file),
      NULL },

    { ngx_string("acme_server_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("acme_server_certificate_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, certificate_lifetime),
      NULL },

    { ngx_string("acme_server_order_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, order_lifetime),
      NULL },

    { ngx_string("acme_server_authorization_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, authz_lifetime),
      NULL },

    { ngx_string("acme_server_nonce_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, nonce_lifetime),
      NULL },

    { ngx_string("acme_server_challenges"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, challenges),
      &ngx_http_acme_server_challenge_types },

    { ngx_string("acme_server_identifiers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, identifiers),
      &ngx_http_acme_server_identifier_types },

    { ngx_string("acme_server_extended_key_usage"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, eku),
      &ngx_http_acme_server_eku_types },

    { ngx_string("acme_server_key_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, key_types),
      &ngx_http_acme_server_key_types },

    { ngx_string("acme_server_account_key_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, account_key_types),
      &ngx_http_acme_server_account_key_types },

    { ngx_string("acme_server_authorization_reuse"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_server_reuse,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, authz_reuse),
      NULL },

    { ngx_string("acme_server_external_account_binding"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_server_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, eab),
      &ngx_http_acme_server_eab_modes },

    { ngx_string("acme_server_require_contact"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, require_contact),
      NULL },

    { ngx_string("acme_server_terms_of_service"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, terms_of_service),
      NULL },

    { ngx_string("acme_server_crl_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, crl_url),
      NULL },

    { ngx_string("acme_server_issuer_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, issuer_url),
      NULL },

    { ngx_string("acme_server_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_acme_server_rate_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("acme_server_rate_limit_exempt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, rl_exempt),
      NULL },

    { ngx_string("acme_server_allow_names"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, allow_names),
      NULL },

    { ngx_string("acme_server_deny_names"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, deny_names),
      NULL },

    { ngx_string("acme_server_allow_ips"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, allow_ips),
      NULL },

    { ngx_string("acme_server_deny_ips"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_acme_server_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, deny_ips),
      NULL },

    { ngx_string("acme_server_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_acme_server_loc_conf_t, max_body),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_acme_server_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_acme_server_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_acme_server_create_loc_conf,  /* create location configuration */
    ngx_http_acme_server_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_acme_server_module = {
    NGX_MODULE_V1,
    &ngx_http_acme_server_module_ctx,      /* module context */
    ngx_http_acme_server_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_acme_server_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * A worker's exit unloads the module (ngx_destroy_pool() dlcloses it, and
 * with it libpq, hiredis, libp11) while the pool threads may still run
 * their thread-specific destructors inside them: keep it mapped.
 */
static void *
ngx_http_acme_server_create_main_conf(ngx_conf_t *cf)
{
    u_char                            *p;
    ngx_str_t                          name, text;
    unsigned char                      md[SHA256_DIGEST_LENGTH];
    ngx_http_acme_server_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_acme_server_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&amcf->cas, cf->pool, 4, sizeof(void *)) != NGX_OK) {
        return NULL;
    }

    /* the configuration file's digest names the policy in audit events */
    ngx_memzero(md, sizeof(md));
    name = cf->conf_file->file.name;

    if (ngx_http_acme_server_read_file(cf, "acme_server", &name, &text)
        == NGX_CONF_OK)
    {
        SHA256(text.data, text.len, md);
    }

    p = ngx_hex_dump(amcf->conf_sha256, md, sizeof(md));
    *p = '\0';

    return amcf;
}


/* issue 8: each worker records that it put each CA's policy in force */
static void
ngx_http_acme_server_audit_policy(ngx_cycle_t *cycle)
{
    ngx_uint_t                          i;
    ngx_thread_task_t                  *task;
    ngx_http_acme_server_loc_conf_t   **cas;
    ngx_http_acme_server_main_conf_t   *amcf;
    ngx_http_acme_server_task_ctx_t    *ctx;

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_acme_server_module);
    if (amcf == NULL) {
        return;
    }

    cas = amcf->cas.elts;

    for (i = 0; i < amcf->cas.nelts; i++) {
        task = ngx_thread_task_alloc(cycle->pool,
                                     sizeof(ngx_http_acme_server_task_ctx_t));
        if (task == NULL) {
            return;
        }

        ctx = task->ctx;
        ctx->conf = &cas[i]->srv;
        ctx->conf_sha256 = (char *) amcf->conf_sha256;

        task->handler = ngx_http_acme_server_policy_thread;
        task->event.data = ctx;
        task->event.handler = ngx_http_acme_server_policy_done;
        task->event.log = cycle->log;

        if (ngx_thread_task_post(cas[i]->thread_pool, task) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "acme server: cannot queue the policy audit");
            return;
        }
    }
}


static void
ngx_http_acme_server_policy_thread(void *data, ngx_log_t *log)
{
    ngx_http_acme_server_task_ctx_t  *ctx = data;

    acme_srv_policy_loaded(ctx->conf, ctx->conf_sha256, (long) ngx_pid,
                           &ctx->resp);
}


static void
ngx_http_acme_server_policy_done(ngx_event_t *ev)
{
    ngx_http_acme_server_task_ctx_t  *ctx = ev->data;

    if (ctx->resp.log[0]) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0, "acme server: %s",
                      ctx->resp.log);
    }

    if (ctx->resp.notice[0]) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0, "acme server: %s",
                      ctx->resp.notice);
    }
}


static ngx_int_t
ngx_http_acme_server_init_process(ngx_cycle_t *cycle)
{
    Dl_info  info;

    if (dladdr((void *) &ngx_http_acme_server_module, &info) != 0
        && info.dli_fname != NULL
        && dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) == NULL)
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "acme server: dlopen(\"%s\") failed: %s",
                      info.dli_fname, dlerror());
    }

    ngx_http_acme_server_audit_policy(cycle);

    return NGX_OK;
}


static ngx_str_t  ngx_http_acme_server_jose =
    ngx_string("application/jose+json");


static char *
ngx_http_acme_server_cstr_r(ngx_http_request_t *r, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


static ngx_int_t
ngx_http_acme_server_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                         path, base, *ct;
    ngx_http_acme_server_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_acme_server_module);

    if (r->uri.len < alcf->location.len) {
        return NGX_DECLINED;
    }

    path.data = r->uri.data + alcf->location.len;
    path.len = r->uri.len - alcf->location.len;

    /* RFC 8555 7.1.1: the directory is fetched with GET (a POST-as-GET,
     * RFC 8555 6.3, goes the way of every POST) */
    if (path.len == 9 && ngx_strncmp(path.data, "directory", 9) == 0
        && r->method != NGX_HTTP_POST)
    {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_acme_server_send_problem(r, alcf,
                       ACME_PROB_MALFORMED, NGX_HTTP_NOT_ALLOWED,
                       "the directory is fetched with GET");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_acme_server_base_url(r, alcf, &base) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        acme_srv_resp_t  resp;

        ngx_memzero(&resp, sizeof(resp));
        resp.body = acme_srv_directory(&alcf->srv, (char *) base.data,
                                       base.len);
        if (resp.body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        resp.status = NGX_HTTP_OK;
        resp.content_type = "application/json";
        resp.body_len = ngx_strlen(resp.body);
        resp.resource = ACME_SRV_R_DIRECTORY;
        resp.revoked_reason = -1;

        return ngx_http_acme_server_send(r, alcf, &resp);
    }

    /* RFC 8555 7.2: HEAD answers 200, GET 204 */
    if (path.len == 9 && ngx_strncmp(path.data, "new-nonce", 9) == 0
        && r->method != NGX_HTTP_POST)
    {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_acme_server_send_problem(r, alcf,
                       ACME_PROB_MALFORMED, NGX_HTTP_NOT_ALLOWED,
                       "newNonce is fetched with HEAD or GET");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        acme_srv_resp_t  resp;

        ngx_memzero(&resp, sizeof(resp));
        resp.status = (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_OK
                                                   : NGX_HTTP_NO_CONTENT;
        resp.resource = ACME_SRV_R_NEW_NONCE;
        resp.revoked_reason = -1;

        return ngx_http_acme_server_send(r, alcf, &resp);
    }

    /* RFC 8555 6.3: everything else is POST (POST-as-GET for reads) */
    if (r->method != NGX_HTTP_POST) {
        return ngx_http_acme_server_send_problem(r, alcf,
                   ACME_PROB_MALFORMED, NGX_HTTP_NOT_ALLOWED,
                   "this resource accepts only POST (RFC 8555 6.3)");
    }

    /* RFC 8555 6.2: Content-Type application/jose+json, else 415 */
    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (ct == NULL || ct->len < ngx_http_acme_server_jose.len
        || ngx_strncasecmp(ct->data, ngx_http_acme_server_jose.data,
                           ngx_http_acme_server_jose.len) != 0
        || (ct->len > ngx_http_acme_server_jose.len
            && ct->data[ngx_http_acme_server_jose.len] != ';'
            && ct->data[ngx_http_acme_server_jose.len] != ' '))
    {
        return ngx_http_acme_server_send_problem(r, alcf,
                   ACME_PROB_MALFORMED, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                   "the Content-Type must be application/jose+json "
                   "(RFC 8555 6.2)");
    }

    if (r->headers_in.content_length_n > (off_t) alcf->max_body) {
        return ngx_http_acme_server_send_problem(r, alcf,
                   ACME_PROB_MALFORMED, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                   "the request body is too large");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_acme_server_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_acme_server_body_handler(ngx_http_request_t *r)
{
    u_char                           *p;
    size_t                            len;
    ngx_buf_t                        *b;
    ngx_str_t                         base;
    ngx_chain_t                      *cl;
    ngx_thread_task_t                *task;
    ngx_http_acme_server_loc_conf_t  *alcf;
    ngx_http_acme_server_task_ctx_t  *ctx;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_acme_server_module);

    if (r->request_body == NULL || r->request_body->temp_file) {
        /* bodies are kept in memory: client_body_buffer_size must be at
         * least acme_server_max_body */
        ngx_http_finalize_request(r,
            ngx_http_acme_server_send_problem(r, alcf, ACME_PROB_MALFORMED,
                NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                "the request body is too large"));
        return;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > alcf->max_body) {
        ngx_http_finalize_request(r,
            ngx_http_acme_server_send_problem(r, alcf, ACME_PROB_MALFORMED,
                NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                "the request body is too large"));
        return;
    }

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_acme_server_task_ctx_t));
    if (task == NULL
        || ngx_http_acme_server_base_url(r, alcf, &base) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = task->ctx;
    ctx->conf = &alcf->srv;

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->req.body = (char *) p;
    ctx->req.body_len = len;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        /* an empty body's buffer has no memory: memcpy(p, NULL, 0) is
         * undefined behaviour (UBSan) */
        if (b->last > b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    ctx->req.base_url = (char *) base.data;
    ctx->req.base_len = base.len;
    ctx->req.client_ip = ngx_http_acme_server_cstr_r(r,
                                                 &r->connection->addr_text);
    ctx->req.path = (char *) r->uri.data + alcf->location.len;
    ctx->req.path_len = r->uri.len - alcf->location.len;

    task->handler = ngx_http_acme_server_thread;
    task->event.data = r;
    task->event.handler = ngx_http_acme_server_done;

    if (ngx_thread_task_post(alcf->thread_pool, task) != NGX_OK) {
        ngx_http_acme_server_metrics_task(0, 1);
        ngx_http_finalize_request(r,
            ngx_http_acme_server_send_problem(r, alcf,
                ACME_PROB_SERVER_INTERNAL, NGX_HTTP_SERVICE_UNAVAILABLE,
                "the server is overloaded; try again later"));
        return;
    }

    ngx_http_acme_server_metrics_task(1, 0);
    ngx_http_acme_server_wait(r, ctx);

    /* the request waits for the task; read_client_request_body() holds
     * the reference that ngx_http_acme_server_done() finalizes */
    r->main->blocked++;
    r->aio = 1;
}


static void
ngx_http_acme_server_thread(void *data, ngx_log_t *log)
{
    ngx_http_acme_server_task_ctx_t  *ctx = data;

    /* a pool thread: only ctx is touched here */
    acme_srv_handle_post(ctx->conf, &ctx->req, &ctx->resp);
}


static void
ngx_http_acme_server_done(ngx_event_t *ev)
{
    ngx_int_t                         rc;
    ngx_connection_t                 *c;
    ngx_thread_task_t                *task;
    ngx_http_request_t               *r;
    ngx_http_acme_server_loc_conf_t  *alcf;
    ngx_http_acme_server_task_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;

    /* the task is the event's container (ngx_thread_task_t.event) */
    task = (ngx_thread_task_t *) ((u_char *) ev
                                  - offsetof(ngx_thread_task_t, event));
    ctx = task->ctx;

    r->main->blocked--;
    r->aio = 0;

    if (ctx->wait.timer_set) {
        ngx_del_timer(&ctx->wait);
    }

    ngx_http_acme_server_metrics_task(-1, 0);

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_acme_server_module);

    if (ctx->resp.log[0]) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0, "acme server: %s",
                      ctx->resp.log);
    }

    if (ctx->resp.notice[0]) {
        ngx_log_error(NGX_LOG_NOTICE, c->log, 0, "acme server: %s",
                      ctx->resp.notice);
    }

    rc = ngx_http_acme_server_send(r, alcf, &ctx->resp);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_acme_server_add_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_acme_server_add_link(ngx_http_request_t *r, const char *url,
    size_t len, const char *suffix, const char *rel)
{
    u_char  *p, *v;
    size_t   n;

    n = len + ngx_strlen(suffix) + ngx_strlen(rel) + sizeof("<>;rel=\"\"");
    v = ngx_pnalloc(r->pool, n);
    if (v == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(v, "<%*s%s>;rel=\"%s\"", len, url, suffix, rel);

    return ngx_http_acme_server_add_header(r, "Link", v, p - v);
}


/* every response: Replay-Nonce (RFC 8555 6.5), Link rel="index" (7.1) */
static ngx_int_t
ngx_http_acme_server_send(ngx_http_request_t *r,
    ngx_http_acme_server_loc_conf_t *alcf, acme_srv_resp_t *resp)
{
    u_char       *nonce, *p;
    size_t        i;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     base;
    ngx_chain_t   out;

    nonce = ngx_pnalloc(r->pool, ACME_NONCE_LEN + 1);
    if (nonce == NULL
        || acme_srv_nonce(&alcf->srv, (char *) nonce) != ACME_OK
        || ngx_http_acme_server_add_header(r, "Replay-Nonce", nonce,
                                           ACME_NONCE_LEN) != NGX_OK
        || ngx_http_acme_server_base_url(r, alcf, &base) != NGX_OK
        || ngx_http_acme_server_add_link(r, (char *) base.data, base.len,
                                         "directory", "index") != NGX_OK
        || ngx_http_acme_server_add_header(r, "Cache-Control",
                                           (u_char *) "no-store", 8)
           != NGX_OK)
    {
        acme_srv_resp_clear(resp);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (resp->location[0]) {
        p = ngx_pstrdup(r->pool, &(ngx_str_t) {
                            ngx_strlen(resp->location),
                            (u_char *) resp->location });
        if (p == NULL
            || ngx_http_acme_server_add_header(r, "Location", p,
                                               ngx_strlen(resp->location))
               != NGX_OK)
        {
            acme_srv_resp_clear(resp);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (resp->link_up[0]
        && ngx_http_acme_server_add_link(r, resp->link_up,
                                         ngx_strlen(resp->link_up), "", "up")
           != NGX_OK)
    {
        acme_srv_resp_clear(resp);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < resp->nlink_alt; i++) {
        if (ngx_http_acme_server_add_link(r, resp->link_alt[i],
                                          ngx_strlen(resp->link_alt[i]), "",
                                          "alternate")
            != NGX_OK)
        {
            acme_srv_resp_clear(resp);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (resp->link_next[0]
        && ngx_http_acme_server_add_link(r, resp->link_next,
                                         ngx_strlen(resp->link_next), "",
                                         "next")
           != NGX_OK)
    {
        acme_srv_resp_clear(resp);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (resp->retry_after) {
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL
            || ngx_http_acme_server_add_header(r, "Retry-After", p,
                   ngx_sprintf(p, "%d", resp->retry_after) - p) != NGX_OK)
        {
            acme_srv_resp_clear(resp);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_acme_server_metrics_response(r, resp);

    r->headers_out.status = resp->status;

    if (resp->content_type) {
        r->headers_out.content_type.data = (u_char *) resp->content_type;
        r->headers_out.content_type.len = ngx_strlen(resp->content_type);
        r->headers_out.content_type_len = r->headers_out.content_type.len;
    }

    r->headers_out.content_length_n = resp->body_len;

    if (resp->body_len == 0 || r->method == NGX_HTTP_HEAD) {
        acme_srv_resp_clear(resp);
        r->header_only = 1;
        r->headers_out.content_length_n = resp->body_len ? -1 : 0;

        return ngx_http_send_header(r);
    }

    b = ngx_create_temp_buf(r->pool, resp->body_len);
    if (b == NULL) {
        acme_srv_resp_clear(resp);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, resp->body, resp->body_len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    acme_srv_resp_clear(resp);

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the only place that renders problem documents (STYLE.md 4) */
static ngx_int_t
ngx_http_acme_server_send_problem(ngx_http_request_t *r,
    ngx_http_acme_server_loc_conf_t *alcf, acme_prob_e type,
    ngx_uint_t status, const char *detail)
{
    acme_srv_resp_t  resp;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    ngx_memzero(&resp, sizeof(resp));
    acme_srv_problem(&resp, type, (int) status, detail);
    resp.resource = ACME_SRV_R_OTHER;
    resp.revoked_reason = -1;
    resp.problem = type;

    if (resp.body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_NOT_ALLOWED) {
        (void) ngx_http_acme_server_add_header(r, "Allow",
            (u_char *) (r->uri.len && ngx_strncmp(r->uri.data
                                                  + alcf->location.len,
                                                  "new-nonce", 9) == 0
                        ? "GET, HEAD" : "POST"),
            ngx_strlen(r->uri.len && ngx_strncmp(r->uri.data
                                                 + alcf->location.len,
                                                 "new-nonce", 9) == 0
                       ? "GET, HEAD" : "POST"));
    }

    return ngx_http_acme_server_send(r, alcf, &resp);
}


/* "scheme://host/location/" as the client addressed us (RFC 8555 6.4
 * compares the JWS "url" with it) */
static ngx_int_t
ngx_http_acme_server_base_url(ngx_http_request_t *r,
    ngx_http_acme_server_loc_conf_t *alcf, ngx_str_t *base)
{
    u_char     *p;
    ngx_str_t   host, scheme;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");

    } else
#endif
    {
        ngx_str_set(&scheme, "http");
    }

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

    } else {
        host = r->headers_in.server;
    }

    base->len = scheme.len + 3 + host.len + alcf->location.len;
    base->data = ngx_pnalloc(r->pool, base->len + 1);
    if (base->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(base->data, "%V://%V%V", &scheme, &host,
                    &alcf->location);
    *p = '\0';

    return NGX_OK;
}


static void *
ngx_http_acme_server_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_acme_server_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_acme_server_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->ready = 0;
    conf->certificate_lifetime = NGX_CONF_UNSET;
    conf->order_lifetime = NGX_CONF_UNSET;
    conf->authz_lifetime = NGX_CONF_UNSET;
    conf->nonce_lifetime = NGX_CONF_UNSET;
    conf->max_body = NGX_CONF_UNSET_SIZE;
    conf->eab = NGX_CONF_UNSET_UINT;
    conf->authz_reuse = NGX_CONF_UNSET;
    conf->require_contact = NGX_CONF_UNSET;
    conf->rl_exempt = NGX_CONF_UNSET_PTR;
    conf->alt_chains = NGX_CONF_UNSET_PTR;
    conf->allow_names = NGX_CONF_UNSET_PTR;
    conf->deny_names = NGX_CONF_UNSET_PTR;
    conf->allow_ips = NGX_CONF_UNSET_PTR;
    conf->deny_ips = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_acme_server_cstr(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


/* reads a whole small file at configuration time (in the master) */
static char *
ngx_http_acme_server_read_file(ngx_conf_t *cf, const char *directive,
    ngx_str_t *name, ngx_str_t *out)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: " ngx_open_file_n " \"%V\" failed",
                           directive, name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: \"%V\" is unreadable or larger than 1m",
                           directive, name);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    out->len = ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, out->data, out->len);
    ngx_close_file(fd);

    if (n < 0 || (size_t) n != out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: cannot read \"%V\"", directive, name);
        return NGX_CONF_ERROR;
    }

    out->data[out->len] = '\0';

    return NGX_CONF_OK;
}


static int
ngx_http_acme_server_url_ok(const char *url)
{
    return (ngx_strncmp(url, "http://", 7) == 0
            || ngx_strncmp(url, "https://", 8) == 0)
           && ngx_strlen(url) <= 1000
           && strpbrk(url, " ,;\t\"") == NULL;
}


/* acme_server_allow_names and friends: checked lists for the core policy */
static char *
ngx_http_acme_server_names(ngx_conf_t *cf, ngx_array_t *a,
    const char *directive, const char *const **out, size_t *n)
{
    char        **v;
    ngx_str_t    *s;
    ngx_uint_t    i;

    *out = NULL;
    *n = 0;

    if (a == NULL) {
        return NGX_CONF_OK;
    }

    v = ngx_pcalloc(cf->pool, a->nelts * sizeof(char *));
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    s = a->elts;

    for (i = 0; i < a->nelts; i++) {
        ngx_strlow(s[i].data, s[i].data, s[i].len);

        if (!acme_policy_pattern_ok((char *) s[i].data, s[i].len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": \"%V\" is not a domain name or "
                               "\"*.\" pattern", directive, &s[i]);
            return NGX_CONF_ERROR;
        }

        v[i] = ngx_http_acme_server_cstr(cf, &s[i]);
        if (v[i] == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    *out = (const char *const *) v;
    *n = a->nelts;

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_server_cidrs(ngx_conf_t *cf, ngx_array_t *a,
    const char *directive, const acme_cidr_t **out, size_t *n)
{
    ngx_str_t    *s;
    ngx_uint_t    i;
    acme_cidr_t  *v;

    *out = NULL;
    *n = 0;

    if (a == NULL) {
        return NGX_CONF_OK;
    }

    v = ngx_pcalloc(cf->pool, a->nelts * sizeof(acme_cidr_t));
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    s = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (acme_cidr_parse((char *) s[i].data, s[i].len, &v[i]) != ACME_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": \"%V\" is not an address or a "
                               "CIDR range without host bits", directive,
                               &s[i]);
            return NGX_CONF_ERROR;
        }
    }

    *out = v;
    *n = a->nelts;

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_server_policy(ngx_conf_t *cf,
    ngx_http_acme_server_loc_conf_t *conf)
{
    acme_policy_t  *pol;

    pol = &conf->srv.policy;

    if (ngx_http_acme_server_names(cf, conf->allow_names,
                                   "acme_server_allow_names",
                                   &pol->allow_names, &pol->nallow_names)
        != NGX_CONF_OK
        || ngx_http_acme_server_names(cf, conf->deny_names,
                                      "acme_server_deny_names",
                                      &pol->deny_names, &pol->ndeny_names)
           != NGX_CONF_OK
        || ngx_http_acme_server_cidrs(cf, conf->allow_ips,
                                      "acme_server_allow_ips",
                                      &pol->allow_ips, &pol->nallow_ips)
           != NGX_CONF_OK
        || ngx_http_acme_server_cidrs(cf, conf->deny_ips,
                                      "acme_server_deny_ips",
                                      &pol->deny_ips, &pol->ndeny_ips)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_server_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_acme_server_loc_conf_t *prev = parent;
    ngx_http_acme_server_loc_conf_t *conf = child;

    u_char                    *p, *last;
    ngx_int_t                  port;
    ngx_str_t                  file, name;
    acme_srv_conf_t           *srv;
    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->database, prev->database, "");
    ngx_conf_merge_str_value(conf->redis, prev->redis, "127.0.0.1:6379");
    ngx_conf_merge_str_value(conf->ca_certificate, prev->ca_certificate, "");
    ngx_conf_merge_str_value(conf->ca_key, prev->ca_key, "");
    ngx_conf_merge_str_value(conf->pkcs11_module, prev->pkcs11_module,
                             "/usr/lib/softhsm/libsofthsm2.so");
    ngx_conf_merge_str_value(conf->pkcs11_pin_file, prev->pkcs11_pin_file,
                             "");
    ngx_conf_merge_str_value(conf->nonce_key_file, prev->nonce_key_file, "");
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");
    ngx_conf_merge_sec_value(conf->certificate_lifetime,
                             prev->certificate_lifetime, 90 * 86400);
    ngx_conf_merge_sec_value(conf->order_lifetime, prev->order_lifetime,
                             7 * 86400);
    ngx_conf_merge_sec_value(conf->authz_lifetime, prev->authz_lifetime,
                             7 * 86400);
    ngx_conf_merge_sec_value(conf->nonce_lifetime, prev->nonce_lifetime,
                             3600);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 64 * 1024);
    ngx_conf_merge_bitmask_value(conf->challenges, prev->challenges,
                                 (NGX_CONF_BITMASK_SET
                                  |(ACME_SRV_CHALL_HTTP01 << 1)
                                  |(ACME_SRV_CHALL_DNS01 << 1)
                                  |(ACME_SRV_CHALL_TLSALPN01 << 1)));
    ngx_conf_merge_bitmask_value(conf->identifiers, prev->identifiers,
                                 (NGX_CONF_BITMASK_SET
                                  |(ACME_SRV_IDENT_DNS << 1)));
    ngx_conf_merge_bitmask_value(conf->eku, prev->eku,
                                 (NGX_CONF_BITMASK_SET
                                  |(ACME_SRV_EKU_SERVER << 1)));
    ngx_conf_merge_uint_value(conf->eab, prev->eab, ACME_SRV_EAB_OFF);
    ngx_conf_merge_bitmask_value(conf->key_types, prev->key_types,
                                 (NGX_CONF_BITMASK_SET
                                  |(ACME_KEY_DEFAULT << 1)));
    ngx_conf_merge_bitmask_value(conf->account_key_types,
                                 prev->account_key_types,
                                 (NGX_CONF_BITMASK_SET
                                  |(ACME_SRV_ACCOUNT_KEY_RSA << 1)
                                  |(ACME_SRV_ACCOUNT_KEY_EC << 1)
                                  |(ACME_SRV_ACCOUNT_KEY_ED25519 << 1)));
    ngx_conf_merge_sec_value(conf->authz_reuse, prev->authz_reuse,
                             7 * 86400);
    ngx_conf_merge_value(conf->require_contact, prev->require_contact, 0);
    ngx_conf_merge_str_value(conf->terms_of_service, prev->terms_of_service,
                             "");
    ngx_conf_merge_str_value(conf->crl_url, prev->crl_url, "");
    ngx_conf_merge_str_value(conf->issuer_url, prev->issuer_url, "");
    ngx_conf_merge_ptr_value(conf->rl_exempt, prev->rl_exempt, NULL);
    ngx_conf_merge_ptr_value(conf->alt_chains, prev->alt_chains, NULL);
    ngx_conf_merge_ptr_value(conf->allow_names, prev->allow_names, NULL);

    /* rate limits are inherited as a whole: a level that sets any of them
     * sets all of them */
    if (!conf->rl_set && prev->rl_set) {
        ngx_memcpy(conf->srv.rate, prev->srv.rate, sizeof(conf->srv.rate));
        conf->srv.max_pending_authz = prev->srv.max_pending_authz;
        conf->srv.max_failed_validations = prev->srv.max_failed_validations;
        conf->srv.failed_window = prev->srv.failed_window;
        conf->rl_set = 1;
    }
    ngx_conf_merge_ptr_value(conf->deny_names, prev->deny_names, NULL);
    ngx_conf_merge_ptr_value(conf->allow_ips, prev->allow_ips, NULL);
    ngx_conf_merge_ptr_value(conf->deny_ips, prev->deny_ips, NULL);

    if (conf->location.len == 0) {
        conf->location = prev->location;
    }

    if (!conf->enable && !conf->ready) {
        return NGX_CONF_OK;
    }

    if (conf->location.len == 0) {
        /* a readiness location names no CA; its checks use these
         * settings */
        ngx_str_set(&conf->location, "/");
    }

#define ngx_http_acme_server_require(field, directive)                       \
    if (conf->field.len == 0) {                                              \
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,                             \
                           "\"acme_server\" in location \"%V\" needs \""     \
                           directive "\"", &conf->location);                 \
        return NGX_CONF_ERROR;                                               \
    }

    ngx_http_acme_server_require(database, "acme_server_database");
    ngx_http_acme_server_require(ca_certificate, "acme_server_ca_certificate");
    ngx_http_acme_server_require(ca_key, "acme_server_ca_key");
    ngx_http_acme_server_require(pkcs11_pin_file,
                                 "acme_server_pkcs11_pin_file");
    ngx_http_acme_server_require(nonce_key_file,
                                 "acme_server_nonce_key_file");

    if (conf->certificate_lifetime < 3600) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server_certificate_lifetime\" in "
                           "location \"%V\" must be at least 1h",
                           &conf->location);
        return NGX_CONF_ERROR;
    }

    srv = &conf->srv;

    srv->ca_name = ngx_http_acme_server_cstr(cf, &conf->location);
    srv->conninfo = ngx_http_acme_server_cstr(cf, &conf->database);
    srv->key_uri = ngx_http_acme_server_cstr(cf, &conf->ca_key);
    srv->pkcs11_module = ngx_http_acme_server_cstr(cf, &conf->pkcs11_module);

    if (srv->ca_name == NULL || srv->conninfo == NULL
        || srv->key_uri == NULL || srv->pkcs11_module == NULL)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(conf->ca_key.data, "pkcs11:", 7) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server_ca_key\" must be a \"pkcs11:\" URI "
                           "(RFC 7512), not \"%V\"", &conf->ca_key);
        return NGX_CONF_ERROR;
    }

    /* acme_server_redis host:port, [v6]:port or unix:/path */
    if (conf->redis.len > 5 && ngx_strncmp(conf->redis.data, "unix:", 5) == 0)
    {
        name.data = conf->redis.data + 5;
        name.len = conf->redis.len - 5;
        srv->redis_host = ngx_http_acme_server_cstr(cf, &name);
        srv->redis_port = 0;

    } else {
        last = conf->redis.data + conf->redis.len;
        p = ngx_strlchr(conf->redis.data, last, ']');
        p = ngx_strlchr(p ? p : conf->redis.data, last, ':');

        port = p ? ngx_atoi(p + 1, last - p - 1) : NGX_ERROR;

        if (p == NULL || port < 1 || port > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"acme_server_redis\" must be host:port or "
                               "unix:/path, not \"%V\"", &conf->redis);
            return NGX_CONF_ERROR;
        }

        name.data = conf->redis.data;
        name.len = p - conf->redis.data;

        if (name.len > 2 && name.data[0] == '[') {
            name.data++;
            name.len -= 2;
        }

        srv->redis_host = ngx_http_acme_server_cstr(cf, &name);
        srv->redis_port = (int) port;
    }

    if (srv->redis_host == NULL) {
        return NGX_CONF_ERROR;
    }

    file = conf->ca_certificate;
    if (ngx_http_acme_server_read_file(cf, "acme_server_ca_certificate",
                                       &file, &name) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_strstr(name.data, "-----BEGIN CERTIFICATE-----") == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server_ca_certificate\": \"%V\" holds no "
                           "PEM certificate", &file);
        return NGX_CONF_ERROR;
    }

    srv->chain_pem = (char *) name.data;

    /* RFC 8555 7.4.2: other issuer chains, served as alternates */
    if (conf->alt_chains) {
        ngx_str_t    *f;
        ngx_uint_t    i;
        const char  **v;

        if (conf->alt_chains->nelts > ACME_SRV_ALT_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"acme_server_ca_alternate_chain\": at "
                               "most %d alternate chains",
                               ACME_SRV_ALT_MAX);
            return NGX_CONF_ERROR;
        }

        v = ngx_pcalloc(cf->pool, conf->alt_chains->nelts * sizeof(char *));
        if (v == NULL) {
            return NGX_CONF_ERROR;
        }

        f = conf->alt_chains->elts;

        for (i = 0; i < conf->alt_chains->nelts; i++) {
            file = f[i];

            if (ngx_http_acme_server_read_file(cf,
                    "acme_server_ca_alternate_chain", &file, &name)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (ngx_strstr(name.data, "-----BEGIN CERTIFICATE-----") == NULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"acme_server_ca_alternate_chain\": "
                                   "\"%V\" holds no PEM certificate",
                                   &file);
                return NGX_CONF_ERROR;
            }

            v[i] = (char *) name.data;
        }

        srv->alt_chains = v;
        srv->nalt_chains = conf->alt_chains->nelts;
    }

    file = conf->pkcs11_pin_file;
    if (ngx_http_acme_server_read_file(cf, "acme_server_pkcs11_pin_file",
                                       &file, &name) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    while (name.len && (name.data[name.len - 1] == '\n'
                        || name.data[name.len - 1] == '\r'
                        || name.data[name.len - 1] == ' '))
    {
        name.data[--name.len] = '\0';
    }

    srv->pin = (char *) name.data;

    file = conf->nonce_key_file;
    if (ngx_http_acme_server_read_file(cf, "acme_server_nonce_key_file",
                                       &file, &name) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (name.len < 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server_nonce_key_file\": \"%V\" must hold "
                           "at least 32 random bytes", &file);
        return NGX_CONF_ERROR;
    }

    /* any length of key material becomes one HMAC key */
    SHA256(name.data, name.len, srv->nonce_key);
    OPENSSL_cleanse(name.data, name.len);

    srv->cert_lifetime = conf->certificate_lifetime;
    srv->order_lifetime = conf->order_lifetime;
    srv->authz_lifetime = conf->authz_lifetime;
    srv->nonce_lifetime = conf->nonce_lifetime;
    srv->key_types = (unsigned) (conf->key_types >> 1);
    srv->account_key_types = (unsigned) (conf->account_key_types >> 1);
    srv->authz_reuse = (int) conf->authz_reuse;
    srv->challenges = (unsigned) (conf->challenges >> 1);
    srv->ident_types = (unsigned) (conf->identifiers >> 1);
    srv->eku = (unsigned) (conf->eku >> 1);
    srv->timeout_ms = 5000;

    srv->eab = (int) conf->eab;
    srv->require_contact = conf->require_contact;

#define ngx_http_acme_server_optional(field, dst)                            \
    if (conf->field.len) {                                                   \
        srv->dst = ngx_http_acme_server_cstr(cf, &conf->field);              \
        if (srv->dst == NULL) {                                              \
            return NGX_CONF_ERROR;                                           \
        }                                                                    \
    }

    ngx_http_acme_server_optional(terms_of_service, tos_url);
    ngx_http_acme_server_optional(crl_url, crl_url);
    ngx_http_acme_server_optional(issuer_url, issuer_url);

    /* embedded in certificates through OpenSSL's config syntax */
    if ((srv->crl_url && !ngx_http_acme_server_url_ok(srv->crl_url))
        || (srv->issuer_url && !ngx_http_acme_server_url_ok(srv->issuer_url))
        || (srv->tos_url && !ngx_http_acme_server_url_ok(srv->tos_url)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server_crl_url\", \"acme_server_issuer_"
                           "url\" and \"acme_server_terms_of_service\" "
                           "take http:// or https:// URLs of at most 1000 "
                           "characters without spaces or commas");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_acme_server_policy(cf, conf) != NGX_CONF_OK
        || ngx_http_acme_server_cidrs(cf, conf->rl_exempt,
                                      "acme_server_rate_limit_exempt",
                                      &srv->rl_exempt_ips,
                                      &srv->rl_nexempt_ips)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* JWS bodies are read into memory: a body nginx would spool to a
     * temporary file (beyond client_body_buffer_size, 8k by default) is
     * refused, so the buffer covers acme_server_max_body */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_body_buffer_size < conf->max_body) {
        clcf->client_body_buffer_size = conf->max_body;
    }

    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_server(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_acme_server_loc_conf_t *alcf = conf;

    char                               *rv;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_acme_server_loc_conf_t   **slot;
    ngx_http_acme_server_main_conf_t   *amcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK || !alcf->enable) {
        return rv;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server\" needs a prefix location");
        return NGX_CONF_ERROR;
    }
#endif

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"acme_server\" needs a location ending in "
                           "\"/\", such as \"location /acme/\"");
        return NGX_CONF_ERROR;
    }

    alcf->location = clcf->name;
    clcf->handler = ngx_http_acme_server_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_acme_server_module);
    slot = ngx_array_push(&amcf->cas);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = alcf;

    if (ngx_http_acme_server_metrics_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a list directive that may appear several times, each adding values */
static char *
ngx_http_acme_server_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * acme_server_rate_limit NAME RATE [burst=N];
 *   new_accounts_per_ip, new_orders_per_account, certificates_per_domain:
 *       RATE is "Nr/s", "Nr/m", "Nr/h" or "Nr/d" (GCRA in Redis), burst
 *       defaults to N;
 *   failed_validations_per_identifier: at most N failures per period;
 *   pending_authorizations_per_account: RATE is a plain count.
 */
static char *
ngx_http_acme_server_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_acme_server_loc_conf_t *alcf = conf;

    u_char           *p, *last;
    ngx_int_t         n, burst, period, which;
    ngx_str_t        *value;
    acme_srv_rate_t  *rate;

    static const char  *gcra[] = {
        "new_accounts_per_ip", "new_orders_per_account",
        "certificates_per_domain", NULL
    };

    value = cf->args->elts;
    alcf->rl_set = 1;

    if (value[1].len == 34
        && ngx_strncmp(value[1].data, "pending_authorizations_per_account",
                       34) == 0)
    {
        n = ngx_atoi(value[2].data, value[2].len);
        if (n == NGX_ERROR || cf->args->nelts != 3) {
            return "takes a count: pending_authorizations_per_account N";
        }

        alcf->srv.max_pending_authz = n;
        return NGX_CONF_OK;
    }

    /* "Nr/unit" */
    last = value[2].data + value[2].len;
    p = ngx_strlchr(value[2].data, last, 'r');

    if (p == NULL || p + 3 != last || p[1] != '/') {
        return "needs a rate such as \"10r/m\"";
    }

    n = ngx_atoi(value[2].data, p - value[2].data);

    switch (p[2]) {
    case 's': period = 1000; break;
    case 'm': period = 60 * 1000; break;
    case 'h': period = 3600 * 1000; break;
    case 'd': period = 86400 * 1000; break;
    default: period = 0;
    }

    if (n == NGX_ERROR || n == 0 || period == 0) {
        return "needs a rate such as \"10r/m\" (units s, m, h, d)";
    }

    burst = n;

    if (cf->args->nelts == 4) {
        if (value[3].len <= 6
            || ngx_strncmp(value[3].data, "burst=", 6) != 0
            || (burst = ngx_atoi(value[3].data + 6, value[3].len - 6))
               == NGX_ERROR
            || burst == 0)
        {
            return "takes \"burst=N\" with N >= 1";
        }
    }

    if (value[1].len == 33
        && ngx_strncmp(value[1].data, "failed_validations_per_identifier",
                       33) == 0)
    {
        alcf->srv.max_failed_validations = n;
        alcf->srv.failed_window = (int) (period / 1000);
        return NGX_CONF_OK;
    }

    for (which = 0; gcra[which]; which++) {
        if (value[1].len == ngx_strlen(gcra[which])
            && ngx_strncmp(value[1].data, gcra[which], value[1].len) == 0)
        {
            rate = &alcf->srv.rate[which];
            rate->interval_ms = period / n;
            rate->burst = burst;

            if (rate->interval_ms == 0) {
                return "is faster than one request per millisecond";
            }

            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"acme_server_rate_limit\": unknown limit \"%V\": "
                       "use new_accounts_per_ip, "
                       "new_orders_per_account, certificates_per_domain, "
                       "failed_validations_per_identifier or "
                       "pending_authorizations_per_account", &value[1]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_acme_server_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_acme_server_health_handler;

    return NGX_CONF_OK;
}


/* "acme_server_health;": the process answers (liveness) */
static ngx_int_t
ngx_http_acme_server_health_handler(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    static u_char  body[] = "{\"status\":\"ok\"}\n";

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + sizeof(body) - 1;
    b->memory = 1;
    b->last_buf = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = sizeof(body) - 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static char *
ngx_http_acme_server_ready(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_acme_server_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    alcf->ready = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_acme_server_ready_handler;

    return NGX_CONF_OK;
}


/* "acme_server_ready;": PostgreSQL, Redis, validator heartbeat and the
 * token, checked from a pool thread of this worker */
static ngx_int_t
ngx_http_acme_server_ready_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_thread_task_t                *task;
    ngx_http_acme_server_loc_conf_t  *alcf;
    ngx_http_acme_server_task_ctx_t  *ctx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_acme_server_module);

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_acme_server_task_ctx_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = task->ctx;
    ctx->conf = &alcf->srv;

    task->handler = ngx_http_acme_server_ready_thread;
    task->event.data = r;
    task->event.handler = ngx_http_acme_server_done;

    if (ngx_thread_task_post(alcf->thread_pool, task) != NGX_OK) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_http_acme_server_metrics_task(1, 0);
    ngx_http_acme_server_wait(r, ctx);

    /* a GET took no reference for a body: take one for the task */
    r->main->count++;
    r->main->blocked++;
    r->aio = 1;

    return NGX_DONE;
}


static void
ngx_http_acme_server_ready_thread(void *data, ngx_log_t *log)
{
    ngx_http_acme_server_task_ctx_t  *ctx = data;

    acme_srv_ready(ctx->conf, &ctx->resp);
}


/*
 * The bitmask and enum directives (acme_server_challenges, _identifiers,
 * _extended_key_usage, _external_account_binding): nginx's own slots say
 * only "invalid value"; this names the directive, the value and what it
 * takes, then leaves the parsing to them.
 */
static char *
ngx_http_acme_server_values(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char       *p, *last, *names;
    u_char        allowed[256];
    size_t        size;
    ngx_str_t    *value, *name;
    ngx_uint_t    i, j, is_enum;

    value = cf->args->elts;
    is_enum = (cmd->set == ngx_http_acme_server_values
               && cmd->post == ngx_http_acme_server_eab_modes);

    /* both tables are arrays of structs that begin with the name */
    names = cmd->post;
    size = is_enum ? sizeof(ngx_conf_enum_t) : sizeof(ngx_conf_bitmask_t);

#define ngx_http_acme_server_value_name(j)                                   \
    ((ngx_str_t *) (names + (j) * size))

    for (i = 1; i < cf->args->nelts; i++) {
        for (j = 0; ngx_http_acme_server_value_name(j)->len; j++) {
            name = ngx_http_acme_server_value_name(j);

            if (name->len == value[i].len
                && ngx_strcasecmp(name->data, value[i].data) == 0)
            {
                break;
            }
        }

        if (ngx_http_acme_server_value_name(j)->len) {
            continue;
        }

        p = allowed;
        last = allowed + sizeof(allowed) - 1;

        for (j = 0; ngx_http_acme_server_value_name(j)->len; j++) {
            p = ngx_slprintf(p, last, "%s\"%V\"", j ? ", " : "",
                             ngx_http_acme_server_value_name(j));
        }

        *p = '\0';

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes %s, not \"%V\"", &cmd->name,
                           allowed, &value[i]);
        return NGX_CONF_ERROR;
    }

#undef ngx_http_acme_server_value_name

    return is_enum ? ngx_conf_set_enum_slot(cf, cmd, conf)
                   : ngx_conf_set_bitmask_slot(cf, cmd, conf);
}


/* acme_server_authorization_reuse off | TIME */
static char *
ngx_http_acme_server_reuse(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    time_t     *t;
    ngx_str_t  *value;

    t = (time_t *) (p + cmd->offset);

    if (*t != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        *t = 0;
        return NGX_CONF_OK;
    }

    *t = ngx_parse_time(&value[1], 1);

    if (*t == (time_t) NGX_ERROR) {
        return "takes \"off\" or a time such as \"8h\"";
    }

    return NGX_CONF_OK;
}
