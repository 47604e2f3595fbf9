/*
 * Copyright (C) nginx-acme-server authors
 *
 * RFC 8555 6.7 problem documents (RFC 7807).  acme_problem.c is the only
 * table mapping a type to its URN and default HTTP status.
 */

#ifndef ACME_PROBLEM_H
#define ACME_PROBLEM_H

#include <stdarg.h>
#include "acme_core.h"


typedef enum {
    ACME_PROB_NONE = 0,
    ACME_PROB_ACCOUNT_DOES_NOT_EXIST,
    ACME_PROB_ALREADY_REVOKED,
    ACME_PROB_BAD_CSR,
    ACME_PROB_BAD_NONCE,
    ACME_PROB_BAD_PUBLIC_KEY,
    ACME_PROB_BAD_REVOCATION_REASON,
    ACME_PROB_BAD_SIGNATURE_ALGORITHM,
    ACME_PROB_CAA,
    ACME_PROB_COMPOUND,
    ACME_PROB_CONNECTION,
    ACME_PROB_DNS,
    ACME_PROB_EXTERNAL_ACCOUNT_REQUIRED,
    ACME_PROB_INCORRECT_RESPONSE,
    ACME_PROB_INVALID_CONTACT,
    ACME_PROB_MALFORMED,
    ACME_PROB_ORDER_NOT_READY,
    ACME_PROB_RATE_LIMITED,
    ACME_PROB_REJECTED_IDENTIFIER,
    ACME_PROB_SERVER_INTERNAL,
    ACME_PROB_TLS,
    ACME_PROB_UNAUTHORIZED,
    ACME_PROB_UNSUPPORTED_CONTACT,
    ACME_PROB_UNSUPPORTED_IDENTIFIER,
    ACME_PROB_USER_ACTION_REQUIRED,
    ACME_PROB_MAX
} acme_prob_e;

#define ACME_PROBLEM_DETAIL_MAX  512

#define ACME_PROBLEM_SUB_MAX         10
#define ACME_PROBLEM_SUB_DETAIL_MAX  160

/* RFC 8555 6.7.1: one of several errors, about one identifier */
typedef struct {
    acme_prob_e  type;
    char         identifier_type[8];                 /* "dns", "ip" */
    char         identifier_value[256];
    char         detail[ACME_PROBLEM_SUB_DETAIL_MAX];
} acme_subproblem_t;

typedef struct {
    acme_prob_e        type;
    int                status;   /* HTTP status; 0 means the type's default */
    char               detail[ACME_PROBLEM_DETAIL_MAX];
    size_t             nsub;     /* subproblems in use */
    acme_subproblem_t  sub[ACME_PROBLEM_SUB_MAX];
} acme_problem_t;


/*
 * acme_problem_set(): fills *p (caller-owned) with type, the type's default
 * status and a printf-formatted detail (truncated to fit), and no
 * subproblems.  Never allocates.  Returns ACME_ERROR, so that callers can write
 * "return acme_problem_set(p, ...);".
 */
int acme_problem_set(acme_problem_t *p, acme_prob_e type, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* the same with an explicit HTTP status (404, 405, 413, 415 ...) */
int acme_problem_set_status(acme_problem_t *p, acme_prob_e type,
    int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * acme_problem_add_sub(): appends a subproblem (RFC 8555 6.7.1) taken from
 * the problem sub (its type and detail) about identifier (type, value);
 * beyond ACME_PROBLEM_SUB_MAX it is dropped.  Never allocates.
 */
void acme_problem_add_sub(acme_problem_t *p, const acme_problem_t *sub,
    const char *identifier_type, const char *identifier_value);

/* "urn:ietf:params:acme:error:<name>" (static string) */
const char *acme_problem_urn(acme_prob_e type);

/* the type's default HTTP status (RFC 8555 6.7 and 7) */
int acme_problem_default_status(acme_prob_e type);

/* the status to send: p->status, or the type's default */
int acme_problem_status(const acme_problem_t *p);

/*
 * acme_problem_json(): the RFC 7807 JSON object {"type","detail","status"}
 * (and "subproblems" with their "identifier" when there are any)
 * as a NUL-terminated string, new allocation (caller frees with free());
 * NULL on allocation failure.
 */
char *acme_problem_json(const acme_problem_t *p);


#endif /* ACME_PROBLEM_H */
