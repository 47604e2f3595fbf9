/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <time.h>
#include <poll.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <jansson.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_resolve.h"
#include "acmev_keyauth.h"
#include "acmev_tlsalpn01.h"


#define ACMEV_TLSALPN01_NAMES_MAX  200    /* SAN list quoted in a detail */


typedef struct {
    const acmev_conf_t  *conf;
    const acme_pg_job_t *job;
    struct timespec      deadline;
    const char          *host;           /* the identifier */
    char                 sni[ACMEV_DNS_NAME_BUF];
    int                  ip;             /* an IP identifier */
    acmev_addr_t         ipaddr;         /* its address */
    unsigned char        md[ACMEV_KEYAUTH_MD_LEN];
} acmev_tlsalpn01_ctx_t;


static int acmev_tlsalpn01_try(acmev_tlsalpn01_ctx_t *ctx,
    const acmev_addr_t *a, acme_problem_t *prob, int *retry);
static int acmev_tlsalpn01_connect(acmev_tlsalpn01_ctx_t *ctx,
    const acmev_addr_t *a, acme_problem_t *prob, int *retry);
static int acmev_tlsalpn01_cert(acmev_tlsalpn01_ctx_t *ctx, X509 *cert,
    const acmev_addr_t *a, acme_problem_t *prob);
static int acmev_tlsalpn01_san(acmev_tlsalpn01_ctx_t *ctx, X509 *cert,
    const acmev_addr_t *a, acme_problem_t *prob);
static void acmev_tlsalpn01_names(GENERAL_NAMES *names, char *buf,
    size_t size);
static void acmev_tlsalpn01_ssl_error(char *buf, size_t size);
static void acmev_tlsalpn01_reverse(const acmev_addr_t *a, char *buf,
    size_t size);
static json_t *acmev_tlsalpn01_record(const char *host, int port,
    const char *sni, const acmev_addr_t *addrs, size_t n);
static long acmev_tlsalpn01_remaining_ms(const acmev_tlsalpn01_ctx_t *ctx);
static void acmev_tlsalpn01_hex(const unsigned char *p, size_t len,
    char *buf, size_t size);


int
acmev_tlsalpn01_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record)
{
    int                     rc, retry;
    size_t                  i, n;
    json_t                 *rec, *records;
    acmev_addr_t            addrs[ACMEV_ADDRS_MAX];
    acmev_addr_t           *try[2];
    acmev_tlsalpn01_ctx_t   ctx;

    *record = NULL;
    rec = NULL;
    n = 0;

    memset(&ctx, 0, sizeof(acmev_tlsalpn01_ctx_t));
    ctx.conf = conf;
    ctx.job = job;
    ctx.host = job->identifier_value;

    clock_gettime(CLOCK_MONOTONIC, &ctx.deadline);
    ctx.deadline.tv_sec += (time_t) conf->timeout * ACMEV_TLSALPN01_STEPS;

    records = json_array();
    if (records == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    /* RFC 8737 3: "MUST NOT be used to validate ... wildcard domain" */
    if (job->wildcard) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "tls-alpn-01 cannot "
                         "validate a wildcard name (RFC 8737 3)");
        rc = ACMEV_EFAILED;
        goto failed;
    }

    rc = acmev_keyauth_digest(job, ctx.md);
    if (rc != ACMEV_OK) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                         "cannot compute the key authorization");
        rc = (rc == ACMEV_EINVAL) ? ACMEV_EFAILED : ACMEV_ENOMEM;
        goto failed;
    }

    if (strcmp(job->identifier_type, "ip") == 0
        && acmev_addr_parse(job->identifier_value, &ctx.ipaddr) == ACMEV_OK)
    {
        /* RFC 8738 6: SNI is the reverse-mapping name of the address */
        ctx.ip = 1;
        acmev_tlsalpn01_reverse(&ctx.ipaddr, ctx.sni, sizeof(ctx.sni));
        addrs[0] = ctx.ipaddr;
        n = 1;

    } else if (strcmp(job->identifier_type, "dns") == 0) {
        snprintf(ctx.sni, sizeof(ctx.sni), "%s", ctx.host);

        rc = acmev_resolve(conf, ctx.host, addrs, ACMEV_ADDRS_MAX, &n, prob);
        if (rc != ACMEV_OK) {
            n = 0;
        }

    } else {
        acme_problem_set(prob, ACME_PROB_UNSUPPORTED_IDENTIFIER,
                         "cannot check tls-alpn-01 for %s identifier "
                         "\"%.253s\"", job->identifier_type,
                         job->identifier_value);
        rc = ACMEV_EFAILED;
        goto failed;
    }

    rec = acmev_tlsalpn01_record(ctx.host, conf->tls_alpn01_port, ctx.sni,
                                 addrs, n);
    if (rec == NULL || json_array_append(records, rec) != 0) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    if (n == 0) {
        goto failed;            /* acmev_resolve() filled prob and rc */
    }

    /* IPv6 first, IPv4 after a failed connect, as for http-01 */
    try[0] = NULL;
    try[1] = NULL;

    for (i = 0; i < n; i++) {
        if (!conf->allow_private && acmev_addr_reserved(&addrs[i])) {
            acmev_log(LOG_INFO, "tls-alpn-01 %s: refusing reserved address "
                      "%s", ctx.host, addrs[i].text);
            continue;
        }

        if (addrs[i].family == AF_INET6 && try[0] == NULL) {
            try[0] = &addrs[i];

        } else if (addrs[i].family == AF_INET && try[1] == NULL) {
            try[1] = &addrs[i];
        }
    }

    if (try[0] == NULL && try[1] == NULL) {
        if (ctx.ip) {
            acme_problem_set(prob, ACME_PROB_CONNECTION, "refusing to "
                             "connect to reserved address %s",
                             ctx.ipaddr.text);

        } else {
            acme_problem_set(prob, ACME_PROB_DNS, "DNS problem: no valid IP "
                             "addresses found for %.253s (all %zu are "
                             "reserved)", ctx.host, n);
        }

        rc = ACMEV_EFAILED;
        goto failed;
    }

    rc = ACMEV_EFAILED;

    for (i = 0; i < 2; i++) {
        if (try[i] == NULL) {
            continue;
        }

        json_object_set_new(rec, "addressUsed", json_string(try[i]->text));

        retry = 0;
        rc = acmev_tlsalpn01_try(&ctx, try[i], prob, &retry);

        if (rc != ACMEV_EFAILED || !retry || i == 1 || try[1] == NULL) {
            break;
        }

        acmev_log(LOG_INFO, "tls-alpn-01 %s: %s failed (%s), trying %s",
                  ctx.host, try[i]->text, prob->detail, try[1]->text);
    }

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    if (records != NULL) {
        *record = json_dumps(records, JSON_COMPACT);
    }

    json_decref(rec);
    json_decref(records);

    return rc;
}


/*
 * One address: connect, handshake, check ALPN and the certificate.
 * *retry is set when the connect failed, so the other family may be tried.
 */
static int
acmev_tlsalpn01_try(acmev_tlsalpn01_ctx_t *ctx, const acmev_addr_t *a,
    acme_problem_t *prob, int *retry)
{
    int                   fd, rc, n, err;
    char                  why[256];
    long                  ms;
    SSL                  *ssl;
    X509                 *cert;
    SSL_CTX              *sctx;
    unsigned int          len;
    struct timeval        tv;
    const unsigned char  *proto;

    static const unsigned char  alpn[] = "\x0a" ACMEV_TLSALPN01_PROTO;

    sctx = NULL;
    ssl = NULL;
    cert = NULL;
    rc = ACMEV_EFAILED;

    fd = acmev_tlsalpn01_connect(ctx, a, prob, retry);
    if (fd == -1) {
        return ACMEV_EFAILED;
    }

    ms = acmev_tlsalpn01_remaining_ms(ctx);
    if (ms > (long) ctx->conf->timeout * 1000) {
        ms = (long) ctx->conf->timeout * 1000;
    }

    if (ms <= 0) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "%s: validation took "
                         "too long", a->text);
        goto failed;
    }

    /* the handshake's reads and writes are bounded by these */
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1
        || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
    {
        acmev_log(LOG_ERR, "setsockopt() failed: %s", strerror(errno));
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                         "cannot set up the TLS connection");
        goto failed;
    }

    ERR_clear_error();

    sctx = SSL_CTX_new(TLS_client_method());
    if (sctx == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    /* RFC 8737 3: TLS 1.2 or later; the chain is not verified */
    SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);

    /* RFC 8737 3: offer "acme-tls/1" and nothing else */
    if (SSL_CTX_set_alpn_protos(sctx, alpn, sizeof(alpn) - 1) != 0) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    ssl = SSL_new(sctx);
    if (ssl == NULL
        || SSL_set_tlsext_host_name(ssl, ctx->sni) != 1
        || SSL_set_fd(ssl, fd) != 1)
    {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    n = SSL_connect(ssl);

    if (n != 1) {
        err = SSL_get_error(ssl, n);

        if (err == SSL_ERROR_SYSCALL
            && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
            acme_problem_set(prob, ACME_PROB_CONNECTION, "%s: Timeout "
                             "during the TLS handshake with %.253s", a->text,
                             ctx->host);
            goto failed;
        }

        if (ERR_GET_REASON(ERR_peek_error())
            == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
        {
            acme_problem_set(prob, ACME_PROB_TLS, "%s: the server for "
                             "%.253s refused the ALPN protocol \"%s\" "
                             "(no_application_protocol alert)", a->text,
                             ctx->host, ACMEV_TLSALPN01_PROTO);
            goto failed;
        }

        if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            snprintf(why, sizeof(why), "%s", errno ? strerror(errno)
                     : "connection closed by the server");

        } else {
            acmev_tlsalpn01_ssl_error(why, sizeof(why));
        }

        acme_problem_set(prob, ACME_PROB_TLS, "%s: TLS handshake with "
                         "%.253s failed: %s", a->text, ctx->host, why);
        goto failed;
    }

    /* RFC 8737 3: the server MUST have selected acme-tls/1 */
    proto = NULL;
    len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);

    if (len != sizeof(ACMEV_TLSALPN01_PROTO) - 1
        || memcmp(proto, ACMEV_TLSALPN01_PROTO, len) != 0)
    {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: cannot "
                         "negotiate ALPN protocol \"%s\" with %.253s for "
                         "tls-alpn-01 (the server selected %s%.*s%s)",
                         a->text, ACMEV_TLSALPN01_PROTO, ctx->host,
                         len ? "\"" : "none", (int) (len > 64 ? 64 : len),
                         len ? (const char *) proto : "", len ? "\"" : "");
        goto failed;
    }

    cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) {
        acme_problem_set(prob, ACME_PROB_TLS, "%s: %.253s sent no "
                         "certificate", a->text, ctx->host);
        goto failed;
    }

    rc = acmev_tlsalpn01_cert(ctx, cert, a, prob);

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    ERR_clear_error();

    if (ssl != NULL) {
        /* a close_notify, without waiting for the peer's */
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }

    X509_free(cert);
    SSL_CTX_free(sctx);
    close(fd);

    return rc;
}


/* a connected blocking socket, or -1 with prob filled */
static int
acmev_tlsalpn01_connect(acmev_tlsalpn01_ctx_t *ctx, const acmev_addr_t *a,
    acme_problem_t *prob, int *retry)
{
    int                       fd, n, err, flags;
    long                      ms;
    socklen_t                 len, slen;
    struct pollfd             pfd;
    struct sockaddr_in       *sin;
    struct sockaddr_in6      *sin6;
    struct sockaddr_storage   ss;

    ms = acmev_tlsalpn01_remaining_ms(ctx);
    if (ms > (long) ctx->conf->timeout * 1000) {
        ms = (long) ctx->conf->timeout * 1000;
    }

    if (ms <= 0) {
        acme_problem_set(prob, ACME_PROB_CONNECTION, "%s: validation took "
                         "too long", a->text);
        return -1;
    }

    memset(&ss, 0, sizeof(ss));

    if (a->family == AF_INET6) {
        sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) ctx->conf->tls_alpn01_port);
        memcpy(&sin6->sin6_addr, a->addr, 16);
        slen = sizeof(struct sockaddr_in6);

    } else {
        sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) ctx->conf->tls_alpn01_port);
        memcpy(&sin->sin_addr, a->addr, 4);
        slen = sizeof(struct sockaddr_in);
    }

    fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        acmev_log(LOG_ERR, "socket() failed: %s", strerror(errno));
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                         "cannot open a socket");
        return -1;
    }

    err = 0;

    if (connect(fd, (struct sockaddr *) &ss, slen) == -1) {
        if (errno != EINPROGRESS) {
            err = errno;
            goto refused;
        }

        pfd.fd = fd;
        pfd.events = POLLOUT;
        pfd.revents = 0;

        do {
            n = poll(&pfd, 1, (int) ms);
        } while (n == -1 && errno == EINTR);

        if (n == 0) {
            *retry = 1;
            acme_problem_set(prob, ACME_PROB_CONNECTION, "%s: Timeout during "
                             "connect to port %d (likely firewall problem)",
                             a->text, ctx->conf->tls_alpn01_port);
            close(fd);
            return -1;
        }

        len = sizeof(err);
        if (n == -1) {
            err = errno;

        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
            err = errno;
        }

        if (err != 0) {
            goto refused;
        }
    }

    flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        err = errno;
        goto refused;
    }

    return fd;

refused:

    *retry = 1;
    acme_problem_set(prob, ACME_PROB_CONNECTION, "%s: Connecting to port %d "
                     "for %.253s: %s", a->text, ctx->conf->tls_alpn01_port,
                     ctx->host, strerror(err));
    close(fd);

    return -1;
}


/* RFC 8737 3: the validation certificate's SAN and acmeIdentifier */
static int
acmev_tlsalpn01_cert(acmev_tlsalpn01_ctx_t *ctx, X509 *cert,
    const acmev_addr_t *a, acme_problem_t *prob)
{
    int                   rc, idx, n, last;
    char                  got[2 * ACMEV_KEYAUTH_MD_LEN + 1];
    char                  want[2 * ACMEV_KEYAUTH_MD_LEN + 1];
    ASN1_OBJECT          *oid;
    X509_EXTENSION       *ext;
    ASN1_OCTET_STRING    *value;
    const unsigned char  *p;

    rc = acmev_tlsalpn01_san(ctx, cert, a, prob);
    if (rc != ACMEV_OK) {
        return rc;
    }

    oid = OBJ_txt2obj(ACMEV_TLSALPN01_OID, 1);
    if (oid == NULL) {
        return ACMEV_ENOMEM;
    }

    n = 0;
    last = -1;

    for (idx = -1;
         (idx = X509_get_ext_by_OBJ(cert, oid, idx)) >= 0;
         /* void */)
    {
        last = idx;
        n++;
    }

    ASN1_OBJECT_free(oid);

    if (n != 1) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "%s the acmeIdentifier extension (%s)", a->text,
                         n ? "more than one" : "missing",
                         ACMEV_TLSALPN01_OID);
        return ACMEV_EFAILED;
    }

    ext = X509_get_ext(cert, last);

    /* RFC 8737 3: "The acmeIdentifier extension MUST be critical" */
    if (!X509_EXTENSION_get_critical(ext)) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "the acmeIdentifier extension is not critical",
                         a->text);
        return ACMEV_EFAILED;
    }

    /* extnValue holds "Authorization ::= OCTET STRING (SIZE (32))" in DER */
    value = X509_EXTENSION_get_data(ext);
    p = ASN1_STRING_get0_data(value);

    if (ASN1_STRING_length(value) != 2 + ACMEV_KEYAUTH_MD_LEN
        || p[0] != 0x04 || p[1] != ACMEV_KEYAUTH_MD_LEN)
    {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "the acmeIdentifier extension is not a DER OCTET "
                         "STRING of %d octets", a->text,
                         ACMEV_KEYAUTH_MD_LEN);
        return ACMEV_EFAILED;
    }

    if (memcmp(p + 2, ctx->md, ACMEV_KEYAUTH_MD_LEN) != 0) {
        acmev_tlsalpn01_hex(p + 2, ACMEV_KEYAUTH_MD_LEN, got, sizeof(got));
        acmev_tlsalpn01_hex(ctx->md, ACMEV_KEYAUTH_MD_LEN, want,
                            sizeof(want));

        acme_problem_set(prob, ACME_PROB_INCORRECT_RESPONSE, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "acmeIdentifier is %s, expected %s (SHA-256 of the "
                         "key authorization)", a->text, got, want);
        return ACMEV_EFAILED;
    }

    return ACMEV_OK;
}


/* RFC 8737 3: exactly one subjectAltName, naming the identifier only */
static int
acmev_tlsalpn01_san(acmev_tlsalpn01_ctx_t *ctx, X509 *cert,
    const acmev_addr_t *a, acme_problem_t *prob)
{
    int                   idx, n, ok, len;
    char                  names[ACMEV_TLSALPN01_NAMES_MAX];
    GENERAL_NAME         *gn;
    GENERAL_NAMES        *san;
    const unsigned char  *p;

    n = 0;

    for (idx = -1;
         (idx = X509_get_ext_by_NID(cert, NID_subject_alt_name, idx)) >= 0;
         /* void */)
    {
        n++;
    }

    if (n != 1) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "%d subjectAltName extensions, expected one",
                         a->text, n);
        return ACMEV_EFAILED;
    }

    san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (san == NULL) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "malformed subjectAltName extension", a->text);
        return ACMEV_EFAILED;
    }

    acmev_tlsalpn01_names(san, names, sizeof(names));

    n = sk_GENERAL_NAME_num(san);

    if (n != 1) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "%d subjectAltNames (%s), expected only %s",
                         a->text, n, names, ctx->host);
        GENERAL_NAMES_free(san);
        return ACMEV_EFAILED;
    }

    gn = sk_GENERAL_NAME_value(san, 0);
    ok = 0;

    if (!ctx->ip && gn->type == GEN_DNS) {
        p = ASN1_STRING_get0_data(gn->d.dNSName);
        len = ASN1_STRING_length(gn->d.dNSName);

        /* RFC 4343: DNS names compare without regard to case */
        ok = (len == (int) strlen(ctx->host)
              && strncasecmp((const char *) p, ctx->host, len) == 0);

    } else if (ctx->ip && gn->type == GEN_IPADD) {
        p = ASN1_STRING_get0_data(gn->d.iPAddress);
        len = ASN1_STRING_length(gn->d.iPAddress);

        ok = (len == (ctx->ipaddr.family == AF_INET6 ? 16 : 4)
              && memcmp(p, ctx->ipaddr.addr, len) == 0);
    }

    GENERAL_NAMES_free(san);

    if (!ok) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "%s: Incorrect "
                         "validation certificate for tls-alpn-01 challenge: "
                         "subjectAltName is %s, expected %s:%s", a->text,
                         names, ctx->ip ? "IP" : "DNS", ctx->host);
        return ACMEV_EFAILED;
    }

    return ACMEV_OK;
}


/* "DNS:a.example, IP:192.0.2.1, ..." cut to size */
static void
acmev_tlsalpn01_names(GENERAL_NAMES *names, char *buf, size_t size)
{
    int                   i, n, len;
    char                  text[ACMEV_DNS_NAME_BUF];
    size_t                o;
    acmev_addr_t          a;
    GENERAL_NAME         *gn;
    const unsigned char  *p;

    o = 0;
    buf[0] = '\0';
    n = sk_GENERAL_NAME_num(names);

    for (i = 0; i < n && o + 1 < size; i++) {
        gn = sk_GENERAL_NAME_value(names, i);

        if (gn->type == GEN_DNS) {
            p = ASN1_STRING_get0_data(gn->d.dNSName);
            len = ASN1_STRING_length(gn->d.dNSName);
            acmev_dns_escape(p, (size_t) len, text, sizeof(text));
            o += snprintf(buf + o, size - o, "%sDNS:%s", i ? ", " : "",
                          text);

        } else if (gn->type == GEN_IPADD
                   && (ASN1_STRING_length(gn->d.iPAddress) == 4
                       || ASN1_STRING_length(gn->d.iPAddress) == 16))
        {
            memset(&a, 0, sizeof(acmev_addr_t));
            len = ASN1_STRING_length(gn->d.iPAddress);
            a.family = (len == 4) ? AF_INET : AF_INET6;
            memcpy(a.addr, ASN1_STRING_get0_data(gn->d.iPAddress), len);
            inet_ntop(a.family, a.addr, a.text, sizeof(a.text));
            o += snprintf(buf + o, size - o, "%sIP:%s", i ? ", " : "",
                          a.text);

        } else {
            o += snprintf(buf + o, size - o, "%s(type %d)", i ? ", " : "",
                          gn->type);
        }
    }

    if (o >= size && size > 4) {
        memcpy(buf + size - 4, "...", 4);
    }
}


/* the first error of OpenSSL's queue, for a problem detail */
static void
acmev_tlsalpn01_ssl_error(char *buf, size_t size)
{
    unsigned long  e;
    const char    *reason;

    e = ERR_peek_error();
    reason = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, size, "%s", reason ? reason : "protocol error");
}


/* RFC 8738 6 (RFC 1035 3.5, RFC 3596 2.5) */
static void
acmev_tlsalpn01_reverse(const acmev_addr_t *a, char *buf, size_t size)
{
    int     i;
    size_t  o;

    o = 0;

    if (a->family == AF_INET) {
        snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", a->addr[3],
                 a->addr[2], a->addr[1], a->addr[0]);
        return;
    }

    for (i = 15; i >= 0 && o < size; i--) {
        o += snprintf(buf + o, size - o, "%x.%x.", a->addr[i] & 0x0f,
                      a->addr[i] >> 4);
    }

    if (o < size) {
        snprintf(buf + o, size - o, "ip6.arpa");
    }
}


/* {hostname, port, serverName, addressesResolved, addressUsed} */
static json_t *
acmev_tlsalpn01_record(const char *host, int port, const char *sni,
    const acmev_addr_t *addrs, size_t n)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "%d", port);

    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "hostname", host,
                     "port", buf, "serverName", sni,
                     "addressesResolved", acmev_addr_json(addrs, n),
                     "addressUsed", "");
}


static long
acmev_tlsalpn01_remaining_ms(const acmev_tlsalpn01_ctx_t *ctx)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (long) (ctx->deadline.tv_sec - now.tv_sec) * 1000
           + (ctx->deadline.tv_nsec - now.tv_nsec) / 1000000;
}


static void
acmev_tlsalpn01_hex(const unsigned char *p, size_t len, char *buf,
    size_t size)
{
    size_t  i, o;

    o = 0;

    for (i = 0; i < len && o + 3 <= size; i++) {
        o += snprintf(buf + o, size - o, "%02x", p[i]);
    }
}
