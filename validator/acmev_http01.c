/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <jansson.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_resolve.h"
#include "acmev_http01.h"


#define ACMEV_HTTP01_URL_MAX     2048
#define ACMEV_HTTP01_EXCERPT     48
#define ACMEV_HTTP01_UA          "nginx-acme-server-validator/1 " \
                                 "(+RFC 8555 8.3)"


typedef struct {
    const acmev_conf_t  *conf;
    json_t              *records;        /* array of validation records */
    struct timespec      deadline;
    char                 body[ACMEV_HTTP01_BODY_MAX];
    size_t               len;
    int                  overflow;
} acmev_http01_ctx_t;

/* one request's outcome */
typedef struct {
    long                 status;
    char                 location[ACMEV_HTTP01_URL_MAX];   /* "" if none */
} acmev_http01_resp_t;


static int acmev_http01_hop(acmev_http01_ctx_t *ctx, const char *url,
    acmev_http01_resp_t *resp, acme_problem_t *prob);
static int acmev_http01_fetch(acmev_http01_ctx_t *ctx, const char *url,
    const char *host, long port, const acmev_addr_t *a, int literal,
    acmev_http01_resp_t *resp, acme_problem_t *prob, int *retry);
static json_t *acmev_http01_record(const char *url, const char *host,
    long port, const acmev_addr_t *addrs, size_t n);
static size_t acmev_http01_write(char *data, size_t size, size_t nmemb,
    void *arg);
static long acmev_http01_remaining_ms(const acmev_http01_ctx_t *ctx);
static int acmev_http01_dns_name(const char *name);
static int acmev_http01_token(const char *token);
static void acmev_http01_excerpt(const char *data, size_t len, char *out,
    size_t size);


int
acmev_http01_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record)
{
    int                   rc, hops;
    char                  keyauth[ACME_TOKEN_LEN + ACME_THUMBPRINT_LEN + 2];
    char                  url[ACMEV_HTTP01_URL_MAX], port[8];
    char                  seen[ACMEV_HTTP01_EXCERPT * 4 + 1];
    size_t                len;
    acmev_addr_t          ip;
    acmev_http01_ctx_t   *ctx;
    acmev_http01_resp_t   resp;

    *record = NULL;

    ctx = calloc(1, sizeof(acmev_http01_ctx_t));
    if (ctx == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    ctx->conf = conf;
    ctx->records = json_array();
    if (ctx->records == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    clock_gettime(CLOCK_MONOTONIC, &ctx->deadline);
    ctx->deadline.tv_sec += (time_t) conf->timeout * ACMEV_HTTP01_STEPS;

    /* the token goes into a URL path: base64url only (RFC 8555 8.3) */
    if (!acmev_http01_token(job->token)) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                         "challenge token is not base64url");
        rc = ACMEV_EFAILED;
        goto failed;
    }

    /* RFC 8555 8.1: keyAuthorization = token || '.' || thumbprint */
    snprintf(keyauth, sizeof(keyauth), "%s.%s", job->token, job->thumbprint);

    port[0] = '\0';
    if (conf->http01_port != 80) {
        snprintf(port, sizeof(port), ":%d", conf->http01_port);
    }

    if (strcmp(job->identifier_type, "dns") == 0
        && acmev_http01_dns_name(job->identifier_value))
    {
        snprintf(url, sizeof(url), "http://%s%s/.well-known/acme-challenge/%s",
                 job->identifier_value, port, job->token);

    } else if (strcmp(job->identifier_type, "ip") == 0
               && acmev_addr_parse(job->identifier_value, &ip) == ACMEV_OK)
    {
        /* RFC 8738 3: the IP address is the host of the URL */
        snprintf(url, sizeof(url), "http://%s%s%s%s/.well-known/"
                 "acme-challenge/%s", ip.family == AF_INET6 ? "[" : "",
                 ip.text, ip.family == AF_INET6 ? "]" : "", port, job->token);

    } else {
        acme_problem_set(prob, ACME_PROB_UNSUPPORTED_IDENTIFIER,
                         "cannot check http-01 for %s identifier \"%.253s\"",
                         job->identifier_type, job->identifier_value);
        rc = ACMEV_EFAILED;
        goto failed;
    }

    for (hops = 0; /* void */; hops++) {
        rc = acmev_http01_hop(ctx, url, &resp, prob);
        if (rc != ACMEV_OK) {
            goto failed;
        }

        if (resp.location[0] == '\0') {
            break;
        }

        if (hops == ACMEV_HTTP01_REDIRECTS) {
            acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.200s: "
                             "too many redirects (more than %d)", url,
                             ACMEV_HTTP01_REDIRECTS);
            rc = ACMEV_EFAILED;
            goto failed;
        }

        acmev_log(LOG_DEBUG, "http-01 %s: %ld redirect to %s",
                  job->chall_public_id, resp.status, resp.location);

        memcpy(url, resp.location, sizeof(url));
    }

    if (resp.status != 200) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "Invalid response "
                         "from %.300s: %ld", url, resp.status);
        rc = ACMEV_EFAILED;
        goto failed;
    }

    len = ctx->len;

    /* RFC 8555 8.3: "SHOULD ignore whitespace characters at the end" */
    while (len > 0 && (ctx->body[len - 1] == ' ' || ctx->body[len - 1] == '\t'
                       || ctx->body[len - 1] == '\r'
                       || ctx->body[len - 1] == '\n'))
    {
        len--;
    }

    if (ctx->overflow || len != strlen(keyauth)
        || memcmp(ctx->body, keyauth, len) != 0)
    {
        acmev_http01_excerpt(ctx->body, ctx->len, seen, sizeof(seen));

        acme_problem_set(prob, ACME_PROB_INCORRECT_RESPONSE,
                         "The key authorization file from the server did not "
                         "match this challenge. Expected \"%s\" (got \"%s\"%s)",
                         keyauth, seen, ctx->overflow ? ", body too large"
                         : ctx->len > ACMEV_HTTP01_EXCERPT ? "..." : "");
        rc = ACMEV_EFAILED;
        goto failed;
    }

    rc = ACMEV_OK;

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    if (ctx != NULL) {
        if (ctx->records != NULL) {
            *record = json_dumps(ctx->records, JSON_COMPACT);
        }

        json_decref(ctx->records);
        free(ctx);
    }

    return rc;
}


/*
 * One request of the redirect chain: check the URL, resolve its host,
 * append its validation record, connect over IPv6 and then IPv4.
 */
static int
acmev_http01_hop(acmev_http01_ctx_t *ctx, const char *url,
    acmev_http01_resp_t *resp, acme_problem_t *prob)
{
    int            rc, retry, literal;
    char          *scheme, *host, *portstr;
    long           port;
    size_t         i, n, len, ntry;
    json_t        *rec;
    CURLU         *u;
    CURLUcode      uc;
    acmev_addr_t   addrs[ACMEV_ADDRS_MAX];
    acmev_addr_t  *try[2];

    scheme = NULL;
    host = NULL;
    portstr = NULL;
    rec = NULL;
    rc = ACMEV_EFAILED;

    u = curl_url();
    if (u == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    }

    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    }

    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_PORT, &portstr, CURLU_DEFAULT_PORT);
    }

    if (uc != CURLUE_OK) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                         "invalid URL (%s)", url, curl_url_strerror(uc));
        goto failed;
    }

    /* RFC 8555 8.3 and 10.2: only http and https, only known ports */
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                         "redirect to a scheme other than http or https",
                         url);
        goto failed;
    }

    port = strtol(portstr, NULL, 10);

    if (port != 80 && port != 443 && port != ctx->conf->http01_port) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                         "redirect to port %ld; only 80 and 443 are allowed",
                         url, port);
        goto failed;
    }

    len = strlen(host);
    if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
        memmove(host, host + 1, len - 2);
        host[len - 2] = '\0';
    }

    literal = (acmev_addr_parse(host, &addrs[0]) == ACMEV_OK);

    if (literal) {
        n = 1;

    } else if (acmev_http01_remaining_ms(ctx) <= 0) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                         "validation took too long", url);
        goto failed;

    } else {
        rc = acmev_resolve(ctx->conf, host, addrs, ACMEV_ADDRS_MAX, &n, prob);
        if (rc != ACMEV_OK) {
            goto failed;
        }

        rc = ACMEV_EFAILED;
    }

    rec = acmev_http01_record(url, host, port, addrs, n);
    if (rec == NULL || json_array_append(ctx->records, rec) != 0) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    /* IPv6 first, IPv4 after a failed connect (RFC 8555 8.3 leaves it) */
    ntry = 0;
    try[0] = NULL;
    try[1] = NULL;

    for (i = 0; i < n; i++) {
        if (!ctx->conf->allow_private && acmev_addr_reserved(&addrs[i])) {
            acmev_log(LOG_INFO, "http-01 %s: refusing reserved address %s",
                      host, addrs[i].text);
            continue;
        }

        if (addrs[i].family == AF_INET6 && try[0] == NULL) {
            try[0] = &addrs[i];
            ntry++;

        } else if (addrs[i].family == AF_INET && try[1] == NULL) {
            try[1] = &addrs[i];
            ntry++;
        }
    }

    if (ntry == 0) {
        if (literal) {
            acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                             "refusing to connect to reserved address %s",
                             url, addrs[0].text);

        } else {
            acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: no valid IP "
                             "addresses found for %.253s (all %zu are "
                             "reserved)", host, n);
        }

        goto failed;
    }

    for (i = 0; i < 2; i++) {
        if (try[i] == NULL) {
            continue;
        }

        json_object_set_new(rec, "addressUsed", json_string(try[i]->text));

        retry = 0;
        rc = acmev_http01_fetch(ctx, url, host, port, try[i], literal, resp,
                                prob, &retry);

        if (rc != ACMEV_EFAILED || !retry || i == 1 || try[1] == NULL) {
            break;
        }

        acmev_log(LOG_INFO, "http-01 %s: %s failed (%s), trying %s",
                  host, try[i]->text, prob->detail, try[1]->text);
    }

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    json_decref(rec);
    curl_free(scheme);
    curl_free(host);
    curl_free(portstr);
    curl_url_cleanup(u);

    return rc;
}


/*
 * One HTTP request to one address (host is that address when literal).
 * *retry is set when nothing was connected (refused, unreachable, connect
 * timeout), so another address may be tried.
 */
static int
acmev_http01_fetch(acmev_http01_ctx_t *ctx, const char *url,
    const char *host, long port, const acmev_addr_t *a, int literal,
    acmev_http01_resp_t *resp, acme_problem_t *prob, int *retry)
{
    int                 rc;
    char                pin[ACME_DNS_NAME_MAX + INET6_ADDRSTRLEN + 16];
    char                errbuf[CURL_ERROR_SIZE];
    long                ms, oserr;
    CURL               *curl;
    char               *loc;
    CURLcode            cc;
    curl_off_t          connected;
    struct curl_slist  *resolve;

    resolve = NULL;
    errbuf[0] = '\0';
    resp->status = 0;
    resp->location[0] = '\0';
    ctx->len = 0;
    ctx->overflow = 0;
    rc = ACMEV_EFAILED;

    ms = acmev_http01_remaining_ms(ctx);
    if (ms <= 0) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                         "validation took too long", url);
        return ACMEV_EFAILED;
    }

    if (ms > (long) ctx->conf->timeout * 1000) {
        ms = (long) ctx->conf->timeout * 1000;
    }

    curl = curl_easy_init();
    if (curl == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    /* connect to the address we resolved, never to curl's own lookup */
    snprintf(pin, sizeof(pin), "%s:%ld:%s%s%s", host, port,
             a->family == AF_INET6 ? "[" : "", a->text,
             a->family == AF_INET6 ? "]" : "");

    if (!literal) {
        resolve = curl_slist_append(NULL, pin);
        if (resolve == NULL) {
            rc = ACMEV_ENOMEM;
            goto failed;
        }
    }

    cc = CURLE_OK;

#define acmev_setopt(opt, val)                                               \
    if (cc == CURLE_OK) {                                                    \
        cc = curl_easy_setopt(curl, opt, val);                               \
    }

    acmev_setopt(CURLOPT_URL, url);
    acmev_setopt(CURLOPT_RESOLVE, resolve);
    acmev_setopt(CURLOPT_IPRESOLVE, a->family == AF_INET6
                                    ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_V4);
    acmev_setopt(CURLOPT_PROTOCOLS_STR, "http,https");
    acmev_setopt(CURLOPT_FOLLOWLOCATION, 0L);   /* we re-resolve each hop */
    acmev_setopt(CURLOPT_PROXY, "");            /* ignore http_proxy */
    acmev_setopt(CURLOPT_NOSIGNAL, 1L);         /* threads */
    acmev_setopt(CURLOPT_CONNECTTIMEOUT_MS, ms);
    acmev_setopt(CURLOPT_TIMEOUT_MS, ms);
    acmev_setopt(CURLOPT_WRITEFUNCTION, acmev_http01_write);
    acmev_setopt(CURLOPT_WRITEDATA, ctx);
    acmev_setopt(CURLOPT_ERRORBUFFER, errbuf);
    acmev_setopt(CURLOPT_USERAGENT, ACMEV_HTTP01_UA);
    acmev_setopt(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);

    /* as Let's Encrypt: an https redirect target's certificate is not
     * checked, the key authorization is what proves control */
    acmev_setopt(CURLOPT_SSL_VERIFYPEER, 0L);
    acmev_setopt(CURLOPT_SSL_VERIFYHOST, 0L);

#undef acmev_setopt

    if (cc != CURLE_OK) {
        acmev_log(LOG_ERR, "curl_easy_setopt() failed: %s",
                  curl_easy_strerror(cc));
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                         "cannot set up the HTTP request");
        goto failed;
    }

    cc = curl_easy_perform(curl);

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);

    /* the body limit stops the transfer: the status is still known */
    if (cc == CURLE_WRITE_ERROR && ctx->overflow) {
        cc = CURLE_OK;
    }

    if (cc != CURLE_OK) {
        oserr = 0;
        connected = 0;
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &oserr);
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);

        acmev_log(LOG_INFO, "http-01 %s via %s: %s", url, a->text,
                  errbuf[0] ? errbuf : curl_easy_strerror(cc));

        switch (cc) {

        case CURLE_COULDNT_CONNECT:
            *retry = 1;
            acme_problem_set(prob, ACME_PROB_CONNECTION,
                             "%s: Fetching %.300s: %s", a->text, url,
                             oserr ? strerror((int) oserr)
                                   : "Connection failed");
            break;

        case CURLE_OPERATION_TIMEDOUT:
            *retry = (connected == 0);
            acme_problem_set(prob, ACME_PROB_CONNECTION,
                             "%s: Fetching %.300s: %s", a->text, url,
                             connected == 0
                             ? "Timeout during connect (likely firewall "
                               "problem)"
                             : "Timeout after connect (your server may be "
                               "slow or overloaded)");
            break;

        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_PEER_FAILED_VERIFICATION:
            acme_problem_set(prob, ACME_PROB_TLS,
                             "%s: Fetching %.300s: TLS error: %s", a->text,
                             url, errbuf[0] ? errbuf
                                            : curl_easy_strerror(cc));
            break;

        case CURLE_OUT_OF_MEMORY:
            rc = ACMEV_ENOMEM;
            break;

        default:
            acme_problem_set(prob, ACME_PROB_CONNECTION,
                             "%s: Fetching %.300s: %s", a->text, url,
                             errbuf[0] ? errbuf : curl_easy_strerror(cc));
            break;
        }

        goto failed;
    }

    if (resp->status == 301 || resp->status == 302 || resp->status == 303
        || resp->status == 307 || resp->status == 308)
    {
        loc = NULL;
        curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &loc);

        if (loc == NULL) {
            acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "Invalid "
                             "response from %.300s: %ld without Location",
                             url, resp->status);
            goto failed;
        }

        if (strlen(loc) >= sizeof(resp->location)) {
            acme_problem_set(prob, ACME_PROB_CONNECTION, "Fetching %.300s: "
                             "redirect URL longer than %d bytes", url,
                             ACMEV_HTTP01_URL_MAX - 1);
            goto failed;
        }

        strcpy(resp->location, loc);
    }

    rc = ACMEV_OK;

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    curl_easy_cleanup(curl);
    curl_slist_free_all(resolve);

    return rc;
}


/* {url, hostname, port, addressesResolved, addressUsed}, as Boulder */
static json_t *
acmev_http01_record(const char *url, const char *host, long port,
    const acmev_addr_t *addrs, size_t n)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "%ld", port);

    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "url", url,
                     "hostname", host, "port", buf,
                     "addressesResolved", acmev_addr_json(addrs, n),
                     "addressUsed", "");
}


static size_t
acmev_http01_write(char *data, size_t size, size_t nmemb, void *arg)
{
    size_t               n, room;
    acmev_http01_ctx_t  *ctx;

    ctx = arg;
    n = size * nmemb;
    room = sizeof(ctx->body) - ctx->len;

    if (n > room) {
        memcpy(ctx->body + ctx->len, data, room);
        ctx->len += room;
        ctx->overflow = 1;
        return 0;                       /* stops the transfer */
    }

    memcpy(ctx->body + ctx->len, data, n);
    ctx->len += n;

    return n;
}


static long
acmev_http01_remaining_ms(const acmev_http01_ctx_t *ctx)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (long) (ctx->deadline.tv_sec - now.tv_sec) * 1000
           + (ctx->deadline.tv_nsec - now.tv_nsec) / 1000000;
}


/* letters, digits, '-' and '.' only: the name goes into a URL */
static int
acmev_http01_dns_name(const char *name)
{
    const char  *p;

    if (*name == '\0' || strlen(name) > ACME_DNS_NAME_MAX) {
        return 0;
    }

    for (p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
        {
            return 0;
        }
    }

    return 1;
}


static int
acmev_http01_token(const char *token)
{
    const char  *p;

    if (*token == '\0') {
        return 0;
    }

    for (p = token; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* the first bytes of a body, printable, for a problem detail */
static void
acmev_http01_excerpt(const char *data, size_t len, char *out, size_t size)
{
    size_t         i, o;
    unsigned char  c;

    o = 0;

    for (i = 0; i < len && i < ACMEV_HTTP01_EXCERPT && o + 5 < size; i++) {
        c = (unsigned char) data[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char) c;

        } else {
            o += snprintf(out + o, size - o, "\\x%02x", c);
        }
    }

    out[o] = '\0';
}
