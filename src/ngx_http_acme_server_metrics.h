/*
 * Copyright (C) nginx-acme-server authors
 *
 * Prometheus metrics of every "acme_server" location, aggregated across
 * the worker processes in one shared memory zone.
 */

#ifndef NGX_HTTP_ACME_SERVER_METRICS_H
#define NGX_HTTP_ACME_SERVER_METRICS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "server/acme_srv.h"


/*
 * ngx_http_acme_server_metrics_zone(): adds (once per configuration) the
 * shared zone "acme_server_metrics"; called from directive handlers.
 */
ngx_int_t ngx_http_acme_server_metrics_zone(ngx_conf_t *cf);

/*
 * ngx_http_acme_server_metrics_response(): counts one response: its
 * resource, status, latency since the request started, and the events in
 * resp (problem type, issuance, revocation, rate limit, signing time).
 */
void ngx_http_acme_server_metrics_response(ngx_http_request_t *r,
    acme_srv_resp_t *resp);

/* thread-pool tasks posted and finished, and tasks refused (queue full) */
void ngx_http_acme_server_metrics_task(ngx_int_t delta, ngx_uint_t refused);

/* "acme_server_metrics;": the content handler of the metrics location */
char *ngx_http_acme_server_metrics_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


#endif /* NGX_HTTP_ACME_SERVER_METRICS_H */
