/*
 * Copyright (C) nginx-acme-server authors
 *
 * acme-bench: the built-in http-01 responder (RFC 8555 8.3).  One thread
 * with epoll answers GET /.well-known/acme-challenge/TOKEN with the key
 * authorization registered by the clients, 404 otherwise, and closes the
 * connection after each response (validators do not reuse connections).
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "acmeb.h"


#define ACMEB_RESP_BUCKETS   4096
#define ACMEB_RESP_MAXLISTEN 4
#define ACMEB_RESP_REQMAX    4096
#define ACMEB_WELL_KNOWN     "/.well-known/acme-challenge/"


typedef struct acmeb_token_s  acmeb_token_t;

struct acmeb_token_s {
    acmeb_token_t      *next;
    char               *token;
    char               *keyauth;
};


typedef struct {
    int                 fd;
    int                 listener;
    size_t              len;
    char                buf[ACMEB_RESP_REQMAX];
} acmeb_rconn_t;


static unsigned acmeb_token_hash(const char *s);
static void *acmeb_responder_main(void *arg);
static void acmeb_responder_read(acmeb_rconn_t *c);
static int acmeb_listen_one(const char *spec);


static pthread_mutex_t   acmeb_tokens_mutex = PTHREAD_MUTEX_INITIALIZER;
static acmeb_token_t    *acmeb_tokens[ACMEB_RESP_BUCKETS];
static pthread_t         acmeb_resp_thread;
static int               acmeb_resp_running;
static int               acmeb_resp_ep = -1;
static int               acmeb_resp_wake[2] = { -1, -1 };
static int               acmeb_resp_lfd[ACMEB_RESP_MAXLISTEN];
static int               acmeb_resp_nlfd;
static atomic_long       acmeb_resp_served;
static acmeb_rconn_t     acmeb_resp_lconn[ACMEB_RESP_MAXLISTEN + 1];


static unsigned
acmeb_token_hash(const char *s)
{
    unsigned  h;

    /* FNV-1a */
    h = 2166136261u;
    while (*s) {
        h = (h ^ (unsigned char) *s++) * 16777619u;
    }

    return h % ACMEB_RESP_BUCKETS;
}


int
acmeb_responder_add(const char *token, const char *keyauth)
{
    unsigned        h;
    acmeb_token_t  *t;

    t = malloc(sizeof(acmeb_token_t));
    if (t == NULL) {
        return -1;
    }

    t->token = strdup(token);
    t->keyauth = strdup(keyauth);
    if (t->token == NULL || t->keyauth == NULL) {
        free(t->token);
        free(t->keyauth);
        free(t);
        return -1;
    }

    h = acmeb_token_hash(token);

    pthread_mutex_lock(&acmeb_tokens_mutex);
    t->next = acmeb_tokens[h];
    acmeb_tokens[h] = t;
    pthread_mutex_unlock(&acmeb_tokens_mutex);

    return 0;
}


void
acmeb_responder_del(const char *token)
{
    unsigned         h;
    acmeb_token_t  **pp, *t;

    h = acmeb_token_hash(token);
    t = NULL;

    pthread_mutex_lock(&acmeb_tokens_mutex);
    for (pp = &acmeb_tokens[h]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->token, token) == 0) {
            t = *pp;
            *pp = t->next;
            break;
        }
    }
    pthread_mutex_unlock(&acmeb_tokens_mutex);

    if (t) {
        free(t->token);
        free(t->keyauth);
        free(t);
    }
}


long
acmeb_responder_served(void)
{
    return atomic_load(&acmeb_resp_served);
}


/* "ADDR:PORT" or "[ADDR6]:PORT" */
static int
acmeb_listen_one(const char *spec)
{
    int               fd, on;
    char              host[128], *port, *p;
    struct addrinfo   hints, *ai;

    if (strlen(spec) >= sizeof(host)) {
        return -1;
    }
    strcpy(host, spec);

    p = host;
    if (*p == '[') {
        p++;
        port = strchr(p, ']');
        if (port == NULL || port[1] != ':') {
            return -1;
        }
        *port = '\0';
        port += 2;

    } else {
        port = strrchr(p, ':');
        if (port == NULL) {
            return -1;
        }
        *port++ = '\0';
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;

    if (getaddrinfo(p, port, &hints, &ai) != 0) {
        return -1;
    }

    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        freeaddrinfo(ai);
        return -1;
    }

    on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ai->ai_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }

    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1
        || listen(fd, 1024) == -1)
    {
        close(fd);
        freeaddrinfo(ai);
        return -1;
    }

    freeaddrinfo(ai);

    return fd;
}


/* listen is a comma-separated list of ADDR:PORT */
int
acmeb_responder_start(const char *listen)
{
    int                  i, fd;
    char                *copy, *tok, *save;
    struct epoll_event   ev;

    copy = strdup(listen);
    if (copy == NULL) {
        return -1;
    }

    acmeb_resp_ep = epoll_create1(EPOLL_CLOEXEC);
    if (acmeb_resp_ep == -1 || pipe2(acmeb_resp_wake, O_CLOEXEC) == -1) {
        free(copy);
        return -1;
    }

    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
    {
        if (acmeb_resp_nlfd == ACMEB_RESP_MAXLISTEN) {
            break;
        }

        fd = acmeb_listen_one(tok);
        if (fd == -1) {
            fprintf(stderr, "acme-bench: cannot listen on %s: %s\n", tok,
                    strerror(errno));
            free(copy);
            return -1;
        }

        i = acmeb_resp_nlfd++;
        acmeb_resp_lfd[i] = fd;
        acmeb_resp_lconn[i].fd = fd;
        acmeb_resp_lconn[i].listener = 1;
        ev.events = EPOLLIN;
        ev.data.ptr = &acmeb_resp_lconn[i];
        epoll_ctl(acmeb_resp_ep, EPOLL_CTL_ADD, fd, &ev);
    }

    free(copy);

    i = ACMEB_RESP_MAXLISTEN;
    acmeb_resp_lconn[i].fd = acmeb_resp_wake[0];
    acmeb_resp_lconn[i].listener = 2;
    ev.events = EPOLLIN;
    ev.data.ptr = &acmeb_resp_lconn[i];
    epoll_ctl(acmeb_resp_ep, EPOLL_CTL_ADD, acmeb_resp_wake[0], &ev);

    if (pthread_create(&acmeb_resp_thread, NULL, acmeb_responder_main, NULL)
        != 0)
    {
        return -1;
    }

    acmeb_resp_running = 1;

    return 0;
}


void
acmeb_responder_stop(void)
{
    int  i;

    if (!acmeb_resp_running) {
        return;
    }

    if (write(acmeb_resp_wake[1], "x", 1) != 1) {
        /* the thread then ends with the process */
        return;
    }

    pthread_join(acmeb_resp_thread, NULL);
    acmeb_resp_running = 0;

    for (i = 0; i < acmeb_resp_nlfd; i++) {
        close(acmeb_resp_lfd[i]);
    }
    close(acmeb_resp_ep);
}


static void *
acmeb_responder_main(void *arg)
{
    int                  i, n, fd;
    acmeb_rconn_t       *c, *nc;
    struct epoll_event   evs[64], ev;

    for ( ;; ) {
        n = epoll_wait(acmeb_resp_ep, evs, 64, -1);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return NULL;
        }

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (c->listener == 2) {
                return NULL;
            }

            if (c->listener == 0) {
                acmeb_responder_read(c);
                continue;
            }

            for ( ;; ) {
                fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd == -1) {
                    break;
                }

                nc = calloc(1, sizeof(acmeb_rconn_t));
                if (nc == NULL) {
                    close(fd);
                    continue;
                }

                nc->fd = fd;
                ev.events = EPOLLIN;
                ev.data.ptr = nc;
                epoll_ctl(acmeb_resp_ep, EPOLL_CTL_ADD, fd, &ev);
            }
        }
    }

    return NULL;
}


static void
acmeb_responder_read(acmeb_rconn_t *c)
{
    int             status;
    char           *path, *end, resp[1024];
    size_t          plen;
    ssize_t         n;
    unsigned        h;
    const char     *body;
    acmeb_token_t  *t;

    n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }

    if (n <= 0) {
        goto close;
    }

    c->len += n;
    c->buf[c->len] = '\0';

    if (strstr(c->buf, "\r\n\r\n") == NULL) {
        if (c->len == sizeof(c->buf) - 1) {
            goto close;
        }
        return;
    }

    status = 404;
    body = "not found\n";

    path = NULL;
    if (strncmp(c->buf, "GET ", 4) == 0) {
        path = c->buf + 4;
        end = strchr(path, ' ');
        if (end) {
            *end = '\0';
        }
    }

    plen = sizeof(ACMEB_WELL_KNOWN) - 1;
    if (path && strncmp(path, ACMEB_WELL_KNOWN, plen) == 0) {
        path += plen;
        h = acmeb_token_hash(path);

        pthread_mutex_lock(&acmeb_tokens_mutex);
        for (t = acmeb_tokens[h]; t; t = t->next) {
            if (strcmp(t->token, path) == 0) {
                status = 200;
                /* copied under the lock: the client may delete it */
                snprintf(resp, sizeof(resp),
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n"
                         "%s", strlen(t->keyauth), t->keyauth);
                break;
            }
        }
        pthread_mutex_unlock(&acmeb_tokens_mutex);
    }

    if (status != 200) {
        snprintf(resp, sizeof(resp),
                 "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 strlen(body), body);
    } else {
        atomic_fetch_add(&acmeb_resp_served, 1);
    }

    /* a small response to a fresh socket: one write is enough */
    if (write(c->fd, resp, strlen(resp)) < 0) {
        /* the peer went away */
    }

close:

    epoll_ctl(acmeb_resp_ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}
