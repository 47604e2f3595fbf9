/*
 * Copyright (C) nginx-acme-server authors
 *
 * Prometheus text exposition (version 0.0.4) of the module's counters.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "acme/acme_problem.h"
#include "ngx_http_acme_server_metrics.h"


#define NGX_ACME_NBUCKETS  12
#define NGX_ACME_NSTATUS   14
#define NGX_ACME_NLIMITS   5
#define NGX_ACME_NREASONS  11
#define NGX_ACME_NKEYS     4


typedef struct {
    ngx_atomic_t  requests[ACME_SRV_R_MAX][NGX_ACME_NSTATUS];
    ngx_atomic_t  latency[ACME_SRV_R_MAX][NGX_ACME_NBUCKETS + 1];
    ngx_atomic_t  latency_sum_ms[ACME_SRV_R_MAX];
    ngx_atomic_t  problems[ACME_PROB_MAX];
    ngx_atomic_t  orders_created;
    ngx_atomic_t  issued[NGX_ACME_NKEYS];
    ngx_atomic_t  revoked[NGX_ACME_NREASONS];
    ngx_atomic_t  rate_limited[NGX_ACME_NLIMITS];
    ngx_atomic_t  internal_errors;
    ngx_atomic_t  tasks_in_flight;
    ngx_atomic_t  tasks_refused;
    ngx_atomic_t  sign[NGX_ACME_NBUCKETS + 1];
    ngx_atomic_t  sign_sum_us;
} ngx_http_acme_server_metrics_t;


static ngx_int_t ngx_http_acme_server_metrics_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_acme_server_metrics_handler(ngx_http_request_t *r);


/* upper bounds in milliseconds (microseconds for signing: x1000) */
static const ngx_uint_t  ngx_acme_bucket_ms[NGX_ACME_NBUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};

static const char  *ngx_acme_bucket_le[NGX_ACME_NBUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5"
};

static const ngx_uint_t  ngx_acme_statuses[NGX_ACME_NSTATUS - 1] = {
    200, 201, 204, 400, 403, 404, 405, 409, 413, 415, 429, 500, 503
};

static const char  *ngx_acme_limits[NGX_ACME_NLIMITS] = {
    "new_accounts_per_ip", "new_orders_per_account",
    "certificates_per_domain", "pending_authorizations_per_account",
    "failed_validations_per_identifier"
};

static const char  *ngx_acme_keys[NGX_ACME_NKEYS] = {
    "rsa", "ecdsa", "ed25519", "other"
};

static ngx_str_t  ngx_http_acme_server_metrics_name =
    ngx_string("acme_server_metrics");

/* one zone per configuration cycle; workers see the master's mapping */
static ngx_shm_zone_t                  *ngx_http_acme_server_metrics_shm;
static ngx_http_acme_server_metrics_t  *ngx_http_acme_server_metrics;


ngx_int_t
ngx_http_acme_server_metrics_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *zone;

    zone = ngx_shared_memory_add(cf, &ngx_http_acme_server_metrics_name,
                                 8 * ngx_pagesize
                                 + sizeof(ngx_http_acme_server_metrics_t),
                                 &ngx_http_acme_server_metrics_name);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_acme_server_metrics_init_zone;
    ngx_http_acme_server_metrics_shm = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_acme_server_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    /* a reload keeps the counters: the old zone's data carries over */
    if (data) {
        shm_zone->data = data;
        ngx_http_acme_server_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_acme_server_metrics = shpool->data;
        return NGX_OK;
    }

    ngx_http_acme_server_metrics =
        ngx_slab_calloc(shpool, sizeof(ngx_http_acme_server_metrics_t));
    if (ngx_http_acme_server_metrics == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_http_acme_server_metrics;
    shm_zone->data = ngx_http_acme_server_metrics;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_acme_server_bucket(ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_ACME_NBUCKETS; i++) {
        if ((ngx_uint_t) ms <= ngx_acme_bucket_ms[i]) {
            return i;
        }
    }

    return NGX_ACME_NBUCKETS;
}


void
ngx_http_acme_server_metrics_response(ngx_http_request_t *r,
    acme_srv_resp_t *resp)
{
    int                              key;
    ngx_uint_t                       i, res, st;
    ngx_time_t                      *tp;
    ngx_msec_int_t                   ms;
    ngx_http_acme_server_metrics_t  *m;

    m = ngx_http_acme_server_metrics;
    if (m == NULL) {
        return;
    }

    res = (resp->resource >= 0 && resp->resource < ACME_SRV_R_MAX)
          ? (ngx_uint_t) resp->resource : ACME_SRV_R_OTHER;

    for (st = 0; st < NGX_ACME_NSTATUS - 1; st++) {
        if (ngx_acme_statuses[st] == (ngx_uint_t) resp->status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->requests[res][st], 1);

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    (void) ngx_atomic_fetch_add(
               &m->latency[res][ngx_http_acme_server_bucket(ms)], 1);
    (void) ngx_atomic_fetch_add(&m->latency_sum_ms[res], ms);

    if (resp->problem > 0 && resp->problem < ACME_PROB_MAX) {
        (void) ngx_atomic_fetch_add(&m->problems[resp->problem], 1);
    }

    if (resp->log[0]) {
        (void) ngx_atomic_fetch_add(&m->internal_errors, 1);
    }

    if (resp->order_created) {
        (void) ngx_atomic_fetch_add(&m->orders_created, 1);
    }

    if (resp->issued_key) {
        key = resp->issued_key;
        i = (key == EVP_PKEY_RSA) ? 0 : (key == EVP_PKEY_EC) ? 1
            : (key == EVP_PKEY_ED25519) ? 2 : 3;
        (void) ngx_atomic_fetch_add(&m->issued[i], 1);
    }

    if (resp->revoked_reason >= 0 && resp->revoked_reason < NGX_ACME_NREASONS)
    {
        (void) ngx_atomic_fetch_add(&m->revoked[resp->revoked_reason], 1);
    }

    if (resp->rate_limit > 0 && resp->rate_limit <= NGX_ACME_NLIMITS) {
        (void) ngx_atomic_fetch_add(&m->rate_limited[resp->rate_limit - 1],
                                    1);
    }

    if (resp->sign_us > 0) {
        (void) ngx_atomic_fetch_add(
                   &m->sign[ngx_http_acme_server_bucket(resp->sign_us
                                                        / 1000)], 1);
        (void) ngx_atomic_fetch_add(&m->sign_sum_us, resp->sign_us);
    }
}


void
ngx_http_acme_server_metrics_task(ngx_int_t delta, ngx_uint_t refused)
{
    ngx_http_acme_server_metrics_t  *m;

    m = ngx_http_acme_server_metrics;
    if (m == NULL) {
        return;
    }

    if (refused) {
        (void) ngx_atomic_fetch_add(&m->tasks_refused, 1);
        return;
    }

    (void) ngx_atomic_fetch_add(&m->tasks_in_flight, delta);
}


char *
ngx_http_acme_server_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_http_acme_server_metrics_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_acme_server_metrics_handler;

    return NGX_CONF_OK;
}


/* appends to the chain; one buffer per 64k of text */
typedef struct {
    ngx_http_request_t  *r;
    ngx_chain_t         *first;
    ngx_chain_t        **last;
    ngx_buf_t           *b;
    off_t                size;
} ngx_acme_text_t;


static ngx_int_t
ngx_acme_text(ngx_acme_text_t *t, const char *fmt, ...)
{
    u_char       *p;
    va_list       args;
    ngx_chain_t  *cl;

    if (t->b == NULL || t->b->end - t->b->last < 512) {
        t->b = ngx_create_temp_buf(t->r->pool, 65536);
        cl = ngx_alloc_chain_link(t->r->pool);
        if (t->b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = t->b;
        cl->next = NULL;
        *t->last = cl;
        t->last = &cl->next;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(t->b->last, t->b->end, fmt, args);
    va_end(args);

    t->size += p - t->b->last;
    t->b->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_acme_server_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i, j, k;
    ngx_atomic_uint_t                cum, count;
    ngx_acme_text_t                  t;
    ngx_http_acme_server_metrics_t  *m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_acme_server_metrics;
    if (m == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_memzero(&t, sizeof(t));
    t.r = r;
    t.last = &t.first;

#define TXT(...)  if (ngx_acme_text(&t, __VA_ARGS__) != NGX_OK) {             \
                      return NGX_HTTP_INTERNAL_SERVER_ERROR;                  \
                  }

    TXT("# HELP acme_server_requests_total ACME requests by resource and "
        "status.\n# TYPE acme_server_requests_total counter\n");

    for (i = 0; i < ACME_SRV_R_MAX; i++) {
        for (j = 0; j < NGX_ACME_NSTATUS; j++) {
            if (m->requests[i][j] == 0) {
                continue;
            }

            if (j < NGX_ACME_NSTATUS - 1) {
                TXT("acme_server_requests_total{resource=\"%s\","
                    "status=\"%ui\"} %uA\n", acme_srv_resource_names[i],
                    ngx_acme_statuses[j], m->requests[i][j]);

            } else {
                TXT("acme_server_requests_total{resource=\"%s\","
                    "status=\"other\"} %uA\n", acme_srv_resource_names[i],
                    m->requests[i][j]);
            }
        }
    }

    TXT("# HELP acme_server_request_duration_seconds Time from request "
        "start to response, by resource.\n"
        "# TYPE acme_server_request_duration_seconds histogram\n");

    for (i = 0; i < ACME_SRV_R_MAX; i++) {
        count = 0;

        for (k = 0; k <= NGX_ACME_NBUCKETS; k++) {
            count += m->latency[i][k];
        }

        if (count == 0) {
            continue;
        }

        cum = 0;

        for (k = 0; k < NGX_ACME_NBUCKETS; k++) {
            cum += m->latency[i][k];
            TXT("acme_server_request_duration_seconds_bucket{resource=\"%s\","
                "le=\"%s\"} %uA\n", acme_srv_resource_names[i],
                ngx_acme_bucket_le[k], cum);
        }

        TXT("acme_server_request_duration_seconds_bucket{resource=\"%s\","
            "le=\"+Inf\"} %uA\n"
            "acme_server_request_duration_seconds_sum{resource=\"%s\"} "
            "%uA.%03uA\n"
            "acme_server_request_duration_seconds_count{resource=\"%s\"} "
            "%uA\n", acme_srv_resource_names[i], count,
            acme_srv_resource_names[i], m->latency_sum_ms[i] / 1000,
            m->latency_sum_ms[i] % 1000, acme_srv_resource_names[i], count);
    }

    TXT("# HELP acme_server_problems_total Problem documents sent, by "
        "type.\n# TYPE acme_server_problems_total counter\n");

    for (i = 1; i < ACME_PROB_MAX; i++) {
        if (m->problems[i]) {
            TXT("acme_server_problems_total{type=\"%s\"} %uA\n",
                acme_problem_urn((acme_prob_e) i)
                + sizeof("urn:ietf:params:acme:error:") - 1,
                m->problems[i]);
        }
    }

    TXT("# HELP acme_server_orders_created_total Orders created.\n"
        "# TYPE acme_server_orders_created_total counter\n"
        "acme_server_orders_created_total %uA\n", m->orders_created);

    TXT("# HELP acme_server_certificates_issued_total Certificates issued, "
        "by key type.\n"
        "# TYPE acme_server_certificates_issued_total counter\n");

    for (i = 0; i < NGX_ACME_NKEYS; i++) {
        TXT("acme_server_certificates_issued_total{key_type=\"%s\"} %uA\n",
            ngx_acme_keys[i], m->issued[i]);
    }

    TXT("# HELP acme_server_revocations_total Certificates revoked, by "
        "RFC 5280 reason code.\n"
        "# TYPE acme_server_revocations_total counter\n");

    for (i = 0; i < NGX_ACME_NREASONS; i++) {
        if (m->revoked[i]) {
            TXT("acme_server_revocations_total{reason=\"%ui\"} %uA\n", i,
                m->revoked[i]);
        }
    }

    TXT("# HELP acme_server_rate_limited_total Requests refused by a rate "
        "limit.\n# TYPE acme_server_rate_limited_total counter\n");

    for (i = 0; i < NGX_ACME_NLIMITS; i++) {
        TXT("acme_server_rate_limited_total{limit=\"%s\"} %uA\n",
            ngx_acme_limits[i], m->rate_limited[i]);
    }

    TXT("# HELP acme_server_internal_errors_total Requests that failed on "
        "our side (database, Redis, signer).\n"
        "# TYPE acme_server_internal_errors_total counter\n"
        "acme_server_internal_errors_total %uA\n"
        "# HELP acme_server_thread_tasks_in_flight Requests queued or "
        "running on the thread pool.\n"
        "# TYPE acme_server_thread_tasks_in_flight gauge\n"
        "acme_server_thread_tasks_in_flight %uA\n"
        "# HELP acme_server_thread_tasks_refused_total Requests refused "
        "because the thread pool's queue was full.\n"
        "# TYPE acme_server_thread_tasks_refused_total counter\n"
        "acme_server_thread_tasks_refused_total %uA\n",
        m->internal_errors, m->tasks_in_flight, m->tasks_refused);

    TXT("# HELP acme_server_signing_duration_seconds Time to sign a "
        "certificate through PKCS#11.\n"
        "# TYPE acme_server_signing_duration_seconds histogram\n");

    cum = 0;

    for (k = 0; k < NGX_ACME_NBUCKETS; k++) {
        cum += m->sign[k];
        TXT("acme_server_signing_duration_seconds_bucket{le=\"%s\"} %uA\n",
            ngx_acme_bucket_le[k], cum);
    }

    cum += m->sign[NGX_ACME_NBUCKETS];

    TXT("acme_server_signing_duration_seconds_bucket{le=\"+Inf\"} %uA\n"
        "acme_server_signing_duration_seconds_sum %uA.%06uA\n"
        "acme_server_signing_duration_seconds_count %uA\n", cum,
        m->sign_sum_us / 1000000, m->sign_sum_us % 1000000, cum);

#undef TXT

    t.b->last_buf = 1;
    t.b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t.size;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, t.first);
}
