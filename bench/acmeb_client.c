/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: the clients.  A worker thread drives its clients with one
 * libcurl multi handle (HTTPS keep-alive, HTTP/1.1 as ACME clients use
 * it).  Each client is a small state machine with at most one request in
 * flight; it keeps the Replay-Nonce of the last response for its next
 * POST (RFC 8555 7.2) and resends a request refused with badNonce with
 * the fresh nonce of that refusal (RFC 8555 6.5).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>
#include "acmeb.h"


#define ACMEB_PROB_PREFIX     "urn:ietf:params:acme:error:"
#define ACMEB_BADNONCE_MAX    10
#define ACMEB_SETUP_TRIES     5
#define ACMEB_POLL_MAX        1.0
#define ACMEB_REQ_TIMEOUT_MS  30000L


typedef enum {
    ACMEB_GET = 0,
    ACMEB_HEAD,
    ACMEB_POST
} acmeb_method_e;


typedef enum {
    ACMEB_S_IDLE = 0,
    ACMEB_S_NONCE,          /* fetching a nonce for a pending POST */
    ACMEB_S_SETUP_NONCE,
    ACMEB_S_SETUP_ACCOUNT,
    ACMEB_S_OP_NONCE,
    ACMEB_S_OP_DIRECTORY,
    ACMEB_S_OP_ACCOUNT,
    ACMEB_S_OP_AUTHED,
    ACMEB_S_NEW_ORDER,
    ACMEB_S_AUTHZ,
    ACMEB_S_CHALLENGE,
    ACMEB_S_POLL_AUTHZ,
    ACMEB_S_FINALIZE,
    ACMEB_S_POLL_ORDER,
    ACMEB_S_CERT
} acmeb_state_e;


typedef struct {
    acmeb_worker_t     *w;
    CURL               *easy;
    int                 id;
    acmeb_state_e       state;
    acmeb_state_e       pending;        /* state to resume after S_NONCE */
    int                 in_flight;
    int                 setup_done;
    int                 setup_tries;
    int                 bad_nonce_tries;
    int                 in_op;
    int                 finalize_retry;
    double              wake_at;
    double              sent_at;
    double              op_start;
    double              step_start;
    double              poll_delay;

    /* request */
    acmeb_method_e      method;
    int                 use_jwk;
    int                 accept_pem;
    char               *payload;        /* NULL: POST-as-GET */
    char               *body_out;
    char                url[ACMEB_URL_MAX];

    /* response */
    long                status;
    double              retry_after;    /* -1: none */
    char               *body;
    size_t              body_len;
    size_t              body_cap;
    char                nonce[ACMEB_NONCE_MAX];
    char                location[ACMEB_URL_MAX];

    /* account */
    EVP_PKEY           *key;
    char                jwk[256];
    char                thumb[ACMEB_THUMB_LEN + 8];
    char                kid[ACMEB_URL_MAX];

    /* issuance */
    char                name[256];
    char                token[256];
    char                order_url[ACMEB_URL_MAX];
    char                authz_url[ACMEB_URL_MAX];
    char                chall_url[ACMEB_URL_MAX];
    char                finalize_url[ACMEB_URL_MAX];
    char                cert_url[ACMEB_URL_MAX];
} acmeb_client_t;


struct acmeb_worker_s {
    acmeb_run_t        *run;
    acmeb_opts_t       *opts;
    CURLM              *multi;
    struct curl_slist  *hdr_jose;
    struct curl_slist  *hdr_pem;
    acmeb_client_t     *clients;
    int                 id;
    int                 n;
    int                 nsetup;
    int                 errors_shown;
    acmeb_stats_t       stats;
};


static size_t acmeb_on_header(char *buf, size_t size, size_t n, void *arg);
static size_t acmeb_on_body(char *buf, size_t size, size_t n, void *arg);
static int acmeb_send(acmeb_client_t *c, acmeb_method_e method,
    const char *url, const char *payload, int use_jwk, acmeb_state_e st);
static int acmeb_send_now(acmeb_client_t *c);
static void acmeb_on_done(acmeb_client_t *c, CURLcode rc);
static void acmeb_step(acmeb_client_t *c, double now);
static void acmeb_start_op(acmeb_client_t *c, double now);
static void acmeb_handle(acmeb_client_t *c, json_t *js);
static void acmeb_op_done(acmeb_client_t *c);
static void acmeb_op_failed(acmeb_client_t *c, const char *type,
    const char *detail);
static void acmeb_step_done(acmeb_client_t *c, acmeb_step_e step,
    double now);
static int acmeb_client_new_key(acmeb_client_t *c);
static void acmeb_schedule_poll(acmeb_client_t *c, acmeb_state_e st,
    const char *url);
static int acmeb_counting(acmeb_client_t *c);


static size_t
acmeb_on_header(char *buf, size_t size, size_t n, void *arg)
{
    char            *v, *e;
    size_t           len, vlen;
    acmeb_client_t  *c;

    c = arg;
    len = size * n;

    v = memchr(buf, ':', len);
    if (v == NULL) {
        if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
            /* a new response (after 100 Continue, say) */
            c->location[0] = '\0';
            c->retry_after = -1;
        }
        return len;
    }

    e = buf + len;
    v++;
    while (v < e && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) {
        e--;
    }
    vlen = e - v;

    if (strncasecmp(buf, "Replay-Nonce:", 13) == 0) {
        if (vlen < sizeof(c->nonce)) {
            memcpy(c->nonce, v, vlen);
            c->nonce[vlen] = '\0';
        }

    } else if (strncasecmp(buf, "Location:", 9) == 0) {
        if (vlen < sizeof(c->location)) {
            memcpy(c->location, v, vlen);
            c->location[vlen] = '\0';
        }

    } else if (strncasecmp(buf, "Retry-After:", 12) == 0) {
        /* RFC 9110 10.2.3: delay-seconds (an HTTP-date is not used by
         * ACME servers in practice and is read as 1 s) */
        c->retry_after = isdigit((unsigned char) *v) ? atof(v) : 1.0;
    }

    return len;
}


static size_t
acmeb_on_body(char *buf, size_t size, size_t n, void *arg)
{
    char            *p;
    size_t           len, cap;
    acmeb_client_t  *c;

    c = arg;
    len = size * n;

    if (c->body_len + len + 1 > c->body_cap) {
        cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + len + 1) {
            cap *= 2;
        }
        p = realloc(c->body, cap);
        if (p == NULL) {
            return 0;
        }
        c->body = p;
        c->body_cap = cap;
    }

    memcpy(c->body + c->body_len, buf, len);
    c->body_len += len;
    c->body[c->body_len] = '\0';

    return len;
}


acmeb_worker_t *
acmeb_worker_new(acmeb_run_t *run, int id, int nclients)
{
    int              i;
    acmeb_worker_t  *w;
    acmeb_client_t  *c;

    w = calloc(1, sizeof(acmeb_worker_t));
    if (w == NULL) {
        return NULL;
    }

    w->run = run;
    w->opts = run->opts;
    w->id = id;
    w->n = nclients;
    w->clients = calloc(nclients, sizeof(acmeb_client_t));
    w->multi = curl_multi_init();
    w->hdr_jose = curl_slist_append(NULL,
                                    "Content-Type: application/jose+json");
    w->hdr_pem = curl_slist_append(NULL,
                                   "Content-Type: application/jose+json");
    w->hdr_pem = curl_slist_append(w->hdr_pem,
                                   "Accept: application/pem-certificate-chain");

    if (w->clients == NULL || w->multi == NULL || w->hdr_jose == NULL
        || w->hdr_pem == NULL)
    {
        acmeb_worker_free(w);
        return NULL;
    }

    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long) nclients + 16);

    for (i = 0; i < nclients; i++) {
        c = &w->clients[i];
        c->w = w;
        c->id = id * 100000 + i;
        c->retry_after = -1;
        c->easy = curl_easy_init();
        if (c->easy == NULL) {
            acmeb_worker_free(w);
            return NULL;
        }

        curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
        curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, acmeb_on_header);
        curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, acmeb_on_body);
        curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION,
                         (long) CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, ACMEB_REQ_TIMEOUT_MS);
        curl_easy_setopt(c->easy, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "acme-bench/1");
        if (w->opts->cacert) {
            curl_easy_setopt(c->easy, CURLOPT_CAINFO, w->opts->cacert);
        }
    }

    return w;
}


void
acmeb_worker_free(acmeb_worker_t *w)
{
    int              i;
    acmeb_client_t  *c;

    if (w == NULL) {
        return;
    }

    for (i = 0; w->clients && i < w->n; i++) {
        c = &w->clients[i];
        if (c->easy) {
            if (c->in_flight) {
                curl_multi_remove_handle(w->multi, c->easy);
            }
            curl_easy_cleanup(c->easy);
        }
        if (c->token[0]) {
            acmeb_responder_del(c->token);
        }
        EVP_PKEY_free(c->key);
        free(c->body);
        free(c->payload);
        free(c->body_out);
    }

    free(w->clients);
    if (w->multi) {
        curl_multi_cleanup(w->multi);
    }
    curl_slist_free_all(w->hdr_jose);
    curl_slist_free_all(w->hdr_pem);
    acmeb_stats_free(&w->stats);
    free(w);
}


acmeb_stats_t *
acmeb_worker_stats(acmeb_worker_t *w)
{
    return &w->stats;
}


/* the measurement window is open: results count */
static int
acmeb_counting(acmeb_client_t *c)
{
    return atomic_load(&c->w->run->go) && !atomic_load(&c->w->run->stop)
           && c->in_op;
}


void *
acmeb_worker_main(void *arg)
{
    int              i, running, left;
    long             timeout_ms;
    double           now, next;
    CURLMsg         *msg;
    acmeb_worker_t  *w;
    acmeb_client_t  *c;

    w = arg;

    for ( ;; ) {
        if (atomic_load(&w->run->stop) || atomic_load(&w->run->abort)) {
            break;
        }

        curl_multi_perform(w->multi, &running);

        while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                              (char **) &c);
            curl_multi_remove_handle(w->multi, msg->easy_handle);
            c->in_flight = 0;
            acmeb_on_done(c, msg->data.result);
        }

        now = acmeb_now();
        next = now + 0.02;

        for (i = 0; i < w->n; i++) {
            c = &w->clients[i];
            if (c->in_flight) {
                continue;
            }
            if (c->wake_at <= now) {
                acmeb_step(c, now);
            }
            if (!c->in_flight && c->wake_at < next) {
                next = c->wake_at;
            }
        }

        if (atomic_load(&w->run->setup_failed)) {
            break;
        }

        timeout_ms = (long) ((next - acmeb_now()) * 1000);
        if (timeout_ms < 0) {
            timeout_ms = 0;
        }

        curl_multi_poll(w->multi, NULL, 0, (int) timeout_ms, NULL);
    }

    return NULL;
}


/* what an idle client does next */
static void
acmeb_step(acmeb_client_t *c, double now)
{
    acmeb_run_t   *run;
    acmeb_opts_t  *o;

    run = c->w->run;
    o = c->w->opts;

    if (c->state != ACMEB_S_IDLE) {
        /* a delayed request (a poll) is due */
        c->bad_nonce_tries = 0;
        acmeb_send_now(c);
        return;
    }

    if (!c->setup_done) {
        switch (o->mode) {
        case ACMEB_MODE_NONCE:
        case ACMEB_MODE_DIRECTORY:
        case ACMEB_MODE_ACCOUNT:
            acmeb_send(c, ACMEB_HEAD, run->dir.new_nonce, NULL, 0,
                       ACMEB_S_SETUP_NONCE);
            break;

        default:
            if (acmeb_client_new_key(c) != 0) {
                atomic_store(&run->setup_failed, 1);
                return;
            }
            acmeb_send(c, ACMEB_POST, run->dir.new_account,
                       "{\"termsOfServiceAgreed\":true}", 1,
                       ACMEB_S_SETUP_ACCOUNT);
        }
        return;
    }

    if (!atomic_load(&run->go)) {
        c->wake_at = now + 0.005;
        return;
    }

    if (atomic_load(&run->stop)) {
        c->wake_at = now + 1;
        return;
    }

    if (o->count && atomic_fetch_add(&run->started, 1) >= o->count) {
        c->wake_at = now + 1;
        return;
    }

    acmeb_start_op(c, now);
}


static int
acmeb_client_new_key(acmeb_client_t *c)
{
    EVP_PKEY_free(c->key);

    c->key = acmeb_key_new();
    if (c->key == NULL) {
        return -1;
    }

    return acmeb_key_jwk(c->key, c->jwk, sizeof(c->jwk), c->thumb);
}


static void
acmeb_start_op(acmeb_client_t *c, double now)
{
    char            id[16];
    acmeb_run_t    *run;
    acmeb_opts_t   *o;
    unsigned char   rnd[8];
    static const char  hex[] = "0123456789abcdef";
    int             i;

    run = c->w->run;
    o = c->w->opts;

    c->in_op = 1;
    c->op_start = now;
    c->step_start = now;
    c->finalize_retry = 0;

    switch (o->mode) {
    case ACMEB_MODE_NONCE:
        acmeb_send(c, ACMEB_HEAD, run->dir.new_nonce, NULL, 0,
                   ACMEB_S_OP_NONCE);
        break;

    case ACMEB_MODE_DIRECTORY:
        acmeb_send(c, ACMEB_GET, o->directory, NULL, 0,
                   ACMEB_S_OP_DIRECTORY);
        break;

    case ACMEB_MODE_ACCOUNT:
        if (acmeb_client_new_key(c) != 0) {
            acmeb_op_failed(c, "client:keygen", NULL);
            return;
        }
        acmeb_send(c, ACMEB_POST, run->dir.new_account,
                   "{\"termsOfServiceAgreed\":true}", 1,
                   ACMEB_S_OP_ACCOUNT);
        break;

    case ACMEB_MODE_AUTHED:
        acmeb_send(c, ACMEB_POST, c->kid, NULL, 0, ACMEB_S_OP_AUTHED);
        break;

    case ACMEB_MODE_ISSUE:
        RAND_bytes(rnd, sizeof(rnd));
        for (i = 0; i < 8; i++) {
            id[2 * i] = hex[rnd[i] >> 4];
            id[2 * i + 1] = hex[rnd[i] & 15];
        }
        id[15] = '\0';
        snprintf(c->name, sizeof(c->name), "b%s.%s", id, o->domain);

        free(c->body_out);
        c->body_out = malloc(strlen(c->name) + 64);
        if (c->body_out == NULL) {
            acmeb_op_failed(c, "client:memory", NULL);
            return;
        }
        sprintf(c->body_out,
                "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}",
                c->name);
        acmeb_send(c, ACMEB_POST, run->dir.new_order, c->body_out, 0,
                   ACMEB_S_NEW_ORDER);
        break;
    }
}


/*
 * Prepares a request and sends it, first fetching a nonce when a POST has
 * none.  payload is copied; NULL for POST is POST-as-GET.
 */
static int
acmeb_send(acmeb_client_t *c, acmeb_method_e method, const char *url,
    const char *payload, int use_jwk, acmeb_state_e st)
{
    if (url != c->url) {
        snprintf(c->url, sizeof(c->url), "%s", url);
    }

    if (payload != c->payload) {
        free(c->payload);
        c->payload = payload ? strdup(payload) : NULL;
    }

    c->method = method;
    c->use_jwk = use_jwk;
    c->state = st;
    c->bad_nonce_tries = 0;
    c->accept_pem = (st == ACMEB_S_CERT);

    return acmeb_send_now(c);
}


static int
acmeb_send_now(acmeb_client_t *c)
{
    char            *jws;
    CURL            *e;
    acmeb_worker_t  *w;

    w = c->w;
    e = c->easy;

    c->body_len = 0;
    c->status = 0;
    c->location[0] = '\0';
    c->retry_after = -1;
    c->wake_at = 0;

    if (c->method == ACMEB_POST && c->nonce[0] == '\0') {
        /* RFC 8555 7.2: get a nonce first; the POST follows */
        if (c->state != ACMEB_S_NONCE) {
            c->pending = c->state;
            c->state = ACMEB_S_NONCE;
        }
        curl_easy_setopt(e, CURLOPT_URL, w->run->dir.new_nonce);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        goto send;
    }

    curl_easy_setopt(e, CURLOPT_URL, c->url);

    switch (c->method) {
    case ACMEB_HEAD:
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        break;

    case ACMEB_GET:
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        break;

    case ACMEB_POST:
        jws = acmeb_jws(c->key, c->use_jwk ? c->jwk : NULL,
                        c->use_jwk ? NULL : c->kid, c->nonce, c->url,
                        c->payload);
        if (jws == NULL) {
            acmeb_op_failed(c, "client:jws", NULL);
            return -1;
        }
        /* a nonce is spent by being sent */
        c->nonce[0] = '\0';
        free(c->body_out);
        c->body_out = jws;
        curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                         c->accept_pem ? w->hdr_pem : w->hdr_jose);
        curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) strlen(jws));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, jws);
        break;
    }

send:

    c->sent_at = acmeb_now();
    c->in_flight = 1;
    w->stats.requests++;

    if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
        c->in_flight = 0;
        acmeb_op_failed(c, "client:curl", NULL);
        return -1;
    }

    return 0;
}


static void
acmeb_on_done(acmeb_client_t *c, CURLcode rc)
{
    char            type[96];
    json_t         *js, *t;
    const char     *ptype;
    acmeb_state_e   st;

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);

    if (rc != CURLE_OK) {
        snprintf(type, sizeof(type), "transport:%s", curl_easy_strerror(rc));
        acmeb_op_failed(c, type, NULL);
        return;
    }

    if (c->state == ACMEB_S_NONCE) {
        if (c->nonce[0] == '\0') {
            acmeb_op_failed(c, "client:no-replay-nonce", NULL);
            return;
        }
        st = c->pending;
        c->state = st;
        acmeb_send_now(c);
        return;
    }

    js = NULL;
    if (c->body_len && c->body[0] == '{') {
        js = json_loadb(c->body, c->body_len, 0, NULL);
    }

    if (c->status >= 400) {
        t = js ? json_object_get(js, "type") : NULL;
        ptype = json_is_string(t) ? json_string_value(t) : NULL;

        if (ptype && strcmp(ptype, ACMEB_PROB_PREFIX "badNonce") == 0
            && c->method == ACMEB_POST
            && c->bad_nonce_tries < ACMEB_BADNONCE_MAX)
        {
            /* RFC 8555 6.5: retry with the nonce of the error */
            c->bad_nonce_tries++;
            c->w->stats.bad_nonce++;
            json_decref(js);
            acmeb_send_now(c);
            return;
        }

        if (c->state == ACMEB_S_FINALIZE && ptype
            && strcmp(ptype, ACMEB_PROB_PREFIX "orderNotReady") == 0
            && c->finalize_retry++ < 20)
        {
            /* the authorization is valid but the order not yet ready */
            json_decref(js);
            acmeb_schedule_poll(c, ACMEB_S_POLL_ORDER, c->order_url);
            return;
        }

        if (ptype) {
            if (strncmp(ptype, ACMEB_PROB_PREFIX,
                        sizeof(ACMEB_PROB_PREFIX) - 1) == 0)
            {
                ptype += sizeof(ACMEB_PROB_PREFIX) - 1;
            }
            snprintf(type, sizeof(type), "%s", ptype);
        } else {
            snprintf(type, sizeof(type), "http-%ld", c->status);
        }

        t = js ? json_object_get(js, "detail") : NULL;
        acmeb_op_failed(c, type, json_is_string(t) ? json_string_value(t)
                                                   : NULL);
        json_decref(js);
        return;
    }

    acmeb_handle(c, js);
    json_decref(js);
}


static void
acmeb_step_done(acmeb_client_t *c, acmeb_step_e step, double now)
{
    if (acmeb_counting(c)) {
        acmeb_samples_add(&c->w->stats.steps[step], now - c->step_start);
    }
    c->step_start = now;
}


/* polls url (POST-as-GET) later: Retry-After when given and honoured,
 * else an interval doubling from --poll-ms up to 1 s */
static void
acmeb_schedule_poll(acmeb_client_t *c, acmeb_state_e st, const char *url)
{
    double         delay;
    acmeb_opts_t  *o;

    o = c->w->opts;

    if (c->state != st) {
        c->poll_delay = o->poll_ms / 1000.0;
    }

    delay = c->poll_delay;
    c->poll_delay *= 2;
    if (c->poll_delay > ACMEB_POLL_MAX) {
        c->poll_delay = ACMEB_POLL_MAX;
    }

    if (c->retry_after >= 0 && !o->ignore_retry_after) {
        delay = c->retry_after;
        if (delay > o->retry_after_cap) {
            delay = o->retry_after_cap;
        }
        if (acmeb_counting(c)) {
            c->w->stats.retry_after_waits++;
            c->w->stats.retry_after_sum += delay;
        }
    }

    if (acmeb_counting(c)) {
        c->w->stats.polls++;
    }

    snprintf(c->url, sizeof(c->url), "%s", url);
    free(c->payload);
    c->payload = NULL;
    c->method = ACMEB_POST;
    c->use_jwk = 0;
    c->state = st;
    c->wake_at = acmeb_now() + delay;
}


static void
acmeb_handle(acmeb_client_t *c, json_t *js)
{
    char            err[128], keyauth[512];
    char           *csr;
    size_t          i;
    double          now;
    json_t         *a, *ch, *v;
    const char     *status, *s;
    acmeb_run_t    *run;

    run = c->w->run;
    now = acmeb_now();

    status = NULL;
    if (js) {
        v = json_object_get(js, "status");
        status = json_is_string(v) ? json_string_value(v) : NULL;
    }

    switch (c->state) {
    case ACMEB_S_SETUP_NONCE:
    case ACMEB_S_SETUP_ACCOUNT:
        if (c->state == ACMEB_S_SETUP_ACCOUNT) {
            if (c->location[0] == '\0') {
                acmeb_op_failed(c, "client:no-account-location", NULL);
                return;
            }
            strcpy(c->kid, c->location);
        }
        c->setup_done = 1;
        c->state = ACMEB_S_IDLE;
        if (++c->w->nsetup == c->w->n) {
            atomic_fetch_add(&run->ready, 1);
        }
        return;

    case ACMEB_S_OP_NONCE:
    case ACMEB_S_OP_DIRECTORY:
    case ACMEB_S_OP_AUTHED:
        if (c->state == ACMEB_S_OP_AUTHED && status == NULL) {
            acmeb_op_failed(c, "client:bad-account-object", NULL);
            return;
        }
        if (c->state == ACMEB_S_OP_DIRECTORY && js == NULL) {
            acmeb_op_failed(c, "client:bad-directory", NULL);
            return;
        }
        acmeb_op_done(c);
        return;

    case ACMEB_S_OP_ACCOUNT:
        if (c->status != 201 || c->location[0] == '\0') {
            acmeb_op_failed(c, "client:account-not-created", NULL);
            return;
        }
        acmeb_op_done(c);
        return;

    case ACMEB_S_NEW_ORDER:
        a = js ? json_object_get(js, "authorizations") : NULL;
        v = js ? json_object_get(js, "finalize") : NULL;
        if (c->location[0] == '\0' || !json_is_array(a)
            || !json_is_string(json_array_get(a, 0)) || !json_is_string(v))
        {
            acmeb_op_failed(c, "client:bad-order", NULL);
            return;
        }
        strcpy(c->order_url, c->location);
        snprintf(c->finalize_url, sizeof(c->finalize_url), "%s",
                 json_string_value(v));
        snprintf(c->authz_url, sizeof(c->authz_url), "%s",
                 json_string_value(json_array_get(a, 0)));
        acmeb_step_done(c, ACMEB_STEP_NEW_ORDER, now);
        acmeb_send(c, ACMEB_POST, c->authz_url, NULL, 0, ACMEB_S_AUTHZ);
        return;

    case ACMEB_S_AUTHZ:
        acmeb_step_done(c, ACMEB_STEP_AUTHZ, now);

        if (status && strcmp(status, "valid") == 0) {
            /* a reused authorization (RFC 8555 7.1.4) */
            acmeb_step_done(c, ACMEB_STEP_CHALLENGE, now);
            acmeb_step_done(c, ACMEB_STEP_VALIDATE, now);
            goto finalize;
        }

        a = js ? json_object_get(js, "challenges") : NULL;
        ch = NULL;
        for (i = 0; json_is_array(a) && i < json_array_size(a); i++) {
            v = json_object_get(json_array_get(a, i), "type");
            if (json_is_string(v)
                && strcmp(json_string_value(v), "http-01") == 0)
            {
                ch = json_array_get(a, i);
                break;
            }
        }

        if (ch == NULL
            || !json_is_string(json_object_get(ch, "url"))
            || !json_is_string(json_object_get(ch, "token")))
        {
            acmeb_op_failed(c, "client:no-http-01-challenge", NULL);
            return;
        }

        snprintf(c->chall_url, sizeof(c->chall_url), "%s",
                 json_string_value(json_object_get(ch, "url")));
        s = json_string_value(json_object_get(ch, "token"));
        if (strlen(s) >= sizeof(c->token)) {
            acmeb_op_failed(c, "client:token-too-long", NULL);
            return;
        }

        /* RFC 8555 8.1: key authorization = token "." thumbprint */
        snprintf(keyauth, sizeof(keyauth), "%s.%s", s, c->thumb);
        if (c->token[0]) {
            acmeb_responder_del(c->token);
        }
        strcpy(c->token, s);
        acmeb_responder_add(c->token, keyauth);

        acmeb_send(c, ACMEB_POST, c->chall_url, "{}", 0, ACMEB_S_CHALLENGE);
        return;

    case ACMEB_S_CHALLENGE:
        acmeb_step_done(c, ACMEB_STEP_CHALLENGE, now);
        if (status && strcmp(status, "valid") == 0) {
            acmeb_step_done(c, ACMEB_STEP_VALIDATE, now);
            goto finalize;
        }
        acmeb_schedule_poll(c, ACMEB_S_POLL_AUTHZ, c->authz_url);
        return;

    case ACMEB_S_POLL_AUTHZ:
        if (status == NULL || strcmp(status, "invalid") == 0) {
            snprintf(err, sizeof(err), "authz-%s",
                     status ? status : "unknown");
            /* the challenge's error names the cause */
            a = json_object_get(js, "challenges");
            for (i = 0; json_is_array(a) && i < json_array_size(a); i++) {
                v = json_object_get(json_object_get(json_array_get(a, i),
                                                    "error"), "type");
                if (json_is_string(v)) {
                    s = json_string_value(v);
                    if (strncmp(s, ACMEB_PROB_PREFIX,
                                sizeof(ACMEB_PROB_PREFIX) - 1) == 0)
                    {
                        s += sizeof(ACMEB_PROB_PREFIX) - 1;
                    }
                    snprintf(err, sizeof(err), "authz-invalid:%s", s);
                }
            }
            acmeb_op_failed(c, err, NULL);
            return;
        }
        if (strcmp(status, "valid") != 0) {
            acmeb_schedule_poll(c, ACMEB_S_POLL_AUTHZ, c->authz_url);
            return;
        }
        acmeb_step_done(c, ACMEB_STEP_VALIDATE, now);
        goto finalize;

    case ACMEB_S_FINALIZE:
    case ACMEB_S_POLL_ORDER:
        if (status == NULL || strcmp(status, "invalid") == 0) {
            acmeb_op_failed(c, status ? "order-invalid" : "client:bad-order",
                            NULL);
            return;
        }

        if (c->state == ACMEB_S_FINALIZE) {
            acmeb_step_done(c, ACMEB_STEP_FINALIZE, now);
        }

        if (strcmp(status, "ready") == 0 && c->state == ACMEB_S_POLL_ORDER) {
            /* after orderNotReady: finalize again */
            goto finalize_again;
        }

        if (strcmp(status, "valid") != 0) {
            acmeb_schedule_poll(c, ACMEB_S_POLL_ORDER, c->order_url);
            return;
        }

        v = json_object_get(js, "certificate");
        if (!json_is_string(v)) {
            acmeb_op_failed(c, "client:no-certificate-url", NULL);
            return;
        }
        snprintf(c->cert_url, sizeof(c->cert_url), "%s",
                 json_string_value(v));
        acmeb_step_done(c, ACMEB_STEP_ISSUE_WAIT, now);
        acmeb_send(c, ACMEB_POST, c->cert_url, NULL, 0, ACMEB_S_CERT);
        return;

    case ACMEB_S_CERT:
        if (acmeb_chain_check(c->body, c->body_len, c->name, err,
                              sizeof(err)) != 0)
        {
            acmeb_op_failed(c, "client:bad-chain", err);
            return;
        }
        acmeb_step_done(c, ACMEB_STEP_CERT, now);
        acmeb_op_done(c);
        return;

    default:
        acmeb_op_failed(c, "client:unexpected-state", NULL);
        return;
    }

finalize:

    /* the finalize step starts here; validation time is not in it */
    c->step_start = now;

finalize_again:

    csr = acmeb_csr_b64u(c->name);
    if (csr == NULL) {
        acmeb_op_failed(c, "client:csr", NULL);
        return;
    }

    free(c->body_out);
    c->body_out = malloc(strlen(csr) + 16);
    if (c->body_out == NULL) {
        free(csr);
        acmeb_op_failed(c, "client:memory", NULL);
        return;
    }
    sprintf(c->body_out, "{\"csr\":\"%s\"}", csr);
    free(csr);

    acmeb_send(c, ACMEB_POST, c->finalize_url, c->body_out, 0,
               ACMEB_S_FINALIZE);
}


static void
acmeb_op_done(acmeb_client_t *c)
{
    double           now;
    acmeb_run_t     *run;
    acmeb_worker_t  *w;

    w = c->w;
    run = w->run;
    now = acmeb_now();

    if (acmeb_counting(c)) {
        acmeb_samples_add(&w->stats.steps[ACMEB_STEP_TOTAL],
                          now - c->op_start);
        w->stats.ops++;
        atomic_fetch_add(&run->completed, 1);
    }

    if (c->token[0]) {
        acmeb_responder_del(c->token);
        c->token[0] = '\0';
    }

    c->in_op = 0;
    c->state = ACMEB_S_IDLE;
    c->wake_at = 0;
}


static void
acmeb_op_failed(acmeb_client_t *c, const char *type, const char *detail)
{
    double           ra;
    acmeb_worker_t  *w;

    w = c->w;

    if (!c->setup_done) {
        if (++c->setup_tries >= ACMEB_SETUP_TRIES) {
            fprintf(stderr, "acme-bench: set-up of a client failed: %s%s%s\n",
                    type, detail ? ": " : "", detail ? detail : "");
            atomic_store(&w->run->setup_failed, 1);
        }
        c->state = ACMEB_S_IDLE;
        c->wake_at = acmeb_now() + 0.2;
        return;
    }

    if (acmeb_counting(c)) {
        acmeb_stats_problem(&w->stats, type);
        atomic_fetch_add(&w->run->failed, 1);

        if (w->opts->verbose || w->errors_shown < 3) {
            w->errors_shown++;
            fprintf(stderr, "acme-bench: error: %s (HTTP %ld, %s)%s%s\n",
                    type, c->status, c->url, detail ? ": " : "",
                    detail ? detail : "");
        }
    }

    if (c->token[0]) {
        acmeb_responder_del(c->token);
        c->token[0] = '\0';
    }

    ra = c->retry_after;
    if (ra > w->opts->retry_after_cap) {
        ra = w->opts->retry_after_cap;
    }

    c->in_op = 0;
    c->state = ACMEB_S_IDLE;
    c->wake_at = (ra > 0 && !w->opts->ignore_retry_after)
                 ? acmeb_now() + ra : 0;
}


/* a blocking GET of the directory (RFC 8555 7.1.1) before the run */
int
acmeb_fetch_directory(acmeb_opts_t *opts, acmeb_dir_t *dir)
{
    int              rc;
    CURL            *e;
    json_t          *js;
    CURLcode         crc;
    const char      *s;
    acmeb_client_t   c;

    memset(&c, 0, sizeof(c));
    rc = -1;

    e = curl_easy_init();
    if (e == NULL) {
        return -1;
    }

    curl_easy_setopt(e, CURLOPT_URL, opts->directory);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, acmeb_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ACMEB_REQ_TIMEOUT_MS);
    if (opts->cacert) {
        curl_easy_setopt(e, CURLOPT_CAINFO, opts->cacert);
    }

    crc = curl_easy_perform(e);
    if (crc != CURLE_OK) {
        fprintf(stderr, "acme-bench: GET %s: %s\n", opts->directory,
                curl_easy_strerror(crc));
        goto done;
    }

    js = c.body ? json_loadb(c.body, c.body_len, 0, NULL) : NULL;
    if (js == NULL) {
        fprintf(stderr, "acme-bench: %s: not a JSON directory\n",
                opts->directory);
        goto done;
    }

#define acmeb_dir_get(field, name)                                          \
    s = json_string_value(json_object_get(js, name));                     \
    if (s == NULL || strlen(s) >= ACMEB_URL_MAX) {                        \
        fprintf(stderr, "acme-bench: directory has no \"%s\"\n", name);   \
        json_decref(js);                                                  \
        goto done;                                                        \
    }                                                                     \
    strcpy(dir->field, s)

    acmeb_dir_get(new_nonce, "newNonce");
    acmeb_dir_get(new_account, "newAccount");
    acmeb_dir_get(new_order, "newOrder");

#undef acmeb_dir_get

    json_decref(js);
    rc = 0;

done:

    free(c.body);
    curl_easy_cleanup(e);

    return rc;
}
