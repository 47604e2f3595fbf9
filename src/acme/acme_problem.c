/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "acme_problem.h"
#include "acme_jws.h"


typedef struct {
    const char  *name;           /* the full URN */
    int          status;
} acme_problem_info_t;


#define ACME_URN(name)  "urn:ietf:params:acme:error:" name


/* RFC 8555 6.7, table of error types; statuses as RFC 8555 7 uses them */
static const acme_problem_info_t  acme_problem_table[ACME_PROB_MAX] = {
    [ACME_PROB_NONE] = { ACME_URN("serverInternal"), 500 },
    [ACME_PROB_ACCOUNT_DOES_NOT_EXIST] =
        { ACME_URN("accountDoesNotExist"), 400 },
    [ACME_PROB_ALREADY_REVOKED] = { ACME_URN("alreadyRevoked"), 400 },
    [ACME_PROB_BAD_CSR] = { ACME_URN("badCSR"), 400 },
    [ACME_PROB_BAD_NONCE] = { ACME_URN("badNonce"), 400 },
    [ACME_PROB_BAD_PUBLIC_KEY] = { ACME_URN("badPublicKey"), 400 },
    [ACME_PROB_BAD_REVOCATION_REASON] =
        { ACME_URN("badRevocationReason"), 400 },
    [ACME_PROB_BAD_SIGNATURE_ALGORITHM] =
        { ACME_URN("badSignatureAlgorithm"), 400 },
    [ACME_PROB_CAA] = { ACME_URN("caa"), 403 },
    [ACME_PROB_COMPOUND] = { ACME_URN("compound"), 400 },
    [ACME_PROB_CONNECTION] = { ACME_URN("connection"), 400 },
    [ACME_PROB_DNS] = { ACME_URN("dns"), 400 },
    [ACME_PROB_EXTERNAL_ACCOUNT_REQUIRED] =
        { ACME_URN("externalAccountRequired"), 400 },
    [ACME_PROB_INCORRECT_RESPONSE] = { ACME_URN("incorrectResponse"), 400 },
    [ACME_PROB_INVALID_CONTACT] = { ACME_URN("invalidContact"), 400 },
    [ACME_PROB_MALFORMED] = { ACME_URN("malformed"), 400 },
    [ACME_PROB_ORDER_NOT_READY] = { ACME_URN("orderNotReady"), 403 },
    [ACME_PROB_RATE_LIMITED] = { ACME_URN("rateLimited"), 429 },
    [ACME_PROB_REJECTED_IDENTIFIER] = { ACME_URN("rejectedIdentifier"), 400 },
    [ACME_PROB_SERVER_INTERNAL] = { ACME_URN("serverInternal"), 500 },
    [ACME_PROB_TLS] = { ACME_URN("tls"), 400 },
    [ACME_PROB_UNAUTHORIZED] = { ACME_URN("unauthorized"), 403 },
    [ACME_PROB_UNSUPPORTED_CONTACT] = { ACME_URN("unsupportedContact"), 400 },
    [ACME_PROB_UNSUPPORTED_IDENTIFIER] =
        { ACME_URN("unsupportedIdentifier"), 400 },
    [ACME_PROB_USER_ACTION_REQUIRED] = { ACME_URN("userActionRequired"), 403 },
};


static void
acme_problem_ascii(char *c)
{
    /* details quote client input: keep them printable ASCII, so that the
     * JSON rendering (UTF-8 only) cannot fail */
    for ( /* void */ ; *c; c++) {
        if ((unsigned char) *c < 0x20 || (unsigned char) *c > 0x7e) {
            *c = '?';
        }
    }
}


void
acme_problem_add_sub(acme_problem_t *p, const acme_problem_t *sub,
    const char *identifier_type, const char *identifier_value)
{
    acme_subproblem_t  *s;

    if (p->nsub >= ACME_PROBLEM_SUB_MAX) {
        return;
    }

    s = &p->sub[p->nsub++];
    s->type = sub->type;
    snprintf(s->identifier_type, sizeof(s->identifier_type), "%s",
             identifier_type);
    snprintf(s->identifier_value, sizeof(s->identifier_value), "%s",
             identifier_value);
    snprintf(s->detail, sizeof(s->detail), "%.159s", sub->detail);
    acme_problem_ascii(s->identifier_type);
    acme_problem_ascii(s->identifier_value);
}


static void
acme_problem_vset(acme_problem_t *p, acme_prob_e type, int status,
    const char *fmt, va_list args)
{
    if ((unsigned) type >= ACME_PROB_MAX) {
        type = ACME_PROB_SERVER_INTERNAL;
    }

    p->type = type;
    p->status = status;
    p->nsub = 0;
    (void) vsnprintf(p->detail, sizeof(p->detail), fmt, args);
    acme_problem_ascii(p->detail);
}


int
acme_problem_set(acme_problem_t *p, acme_prob_e type, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    acme_problem_vset(p, type, 0, fmt, args);
    va_end(args);

    return ACME_ERROR;
}


int
acme_problem_set_status(acme_problem_t *p, acme_prob_e type, int status,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    acme_problem_vset(p, type, status, fmt, args);
    va_end(args);

    return ACME_ERROR;
}


const char *
acme_problem_urn(acme_prob_e type)
{
    if ((unsigned) type >= ACME_PROB_MAX) {
        type = ACME_PROB_SERVER_INTERNAL;
    }

    return acme_problem_table[type].name;
}


int
acme_problem_default_status(acme_prob_e type)
{
    if ((unsigned) type >= ACME_PROB_MAX) {
        return 500;
    }

    return acme_problem_table[type].status;
}


int
acme_problem_status(const acme_problem_t *p)
{
    return p->status ? p->status : acme_problem_default_status(p->type);
}


char *
acme_problem_json(const acme_problem_t *p)
{
    char    *s;
    size_t   i;
    json_t  *o, *algs, *subs;

    o = json_pack("{s:s, s:s, s:i}",
                  "type", acme_problem_urn(p->type),
                  "detail", p->detail,
                  "status", acme_problem_status(p));
    if (o == NULL) {
        return NULL;
    }

    /* RFC 8555 6.2: badSignatureAlgorithm lists the accepted algorithms */
    if (p->type == ACME_PROB_BAD_SIGNATURE_ALGORITHM) {
        algs = json_array();

        for (i = 0; algs && acme_jws_algorithms[i]; i++) {
            json_array_append_new(algs, json_string(acme_jws_algorithms[i]));
        }

        json_object_set_new(o, "algorithms", algs);
    }

    if (p->nsub) {
        subs = json_array();

        for (i = 0; subs && i < p->nsub; i++) {
            json_array_append_new(subs, json_pack(
                "{s:s, s:s, s:{s:s, s:s}}",
                "type", acme_problem_urn(p->sub[i].type),
                "detail", p->sub[i].detail,
                "identifier", "type", p->sub[i].identifier_type,
                "value", p->sub[i].identifier_value));
        }

        json_object_set_new(o, "subproblems", subs);
    }

    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);

    return s;
}
