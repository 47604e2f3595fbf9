/*
 * Copyright (C) nginx-acme-server authors
 *
 * JWS as ACME uses it (RFC 8555 6.2, RFC 7515): flattened JSON
 * serialization only, one signature, protected header only.
 */

#ifndef ACME_JWS_H
#define ACME_JWS_H

#include <jansson.h>
#include <openssl/evp.h>
#include "acme_core.h"
#include "acme_problem.h"


/* the JWS "alg" values accepted (RFC 7518 3.1, RFC 8037 3.1), NULL-ended;
 * also sent in badSignatureAlgorithm problems (RFC 8555 6.2) */
extern const char  *acme_jws_algorithms[];

typedef struct {
    json_t          *protected_hdr;  /* parsed protected header (owned) */
    const char      *alg;            /* borrowed from protected_hdr */
    const char      *nonce;          /* NULL when absent */
    const char      *url;            /* NULL when absent */
    const char      *kid;            /* NULL when absent */
    json_t          *jwk;            /* borrowed; NULL when absent */
    unsigned char   *payload;        /* decoded, NUL-terminated (owned) */
    size_t           payload_len;    /* 0: POST-as-GET (RFC 8555 6.3) */
    unsigned char   *sig;            /* decoded signature (owned) */
    size_t           sig_len;
    char            *signing_input;  /* "protected.payload" (owned) */
    size_t           signing_input_len;
} acme_jws_t;


/*
 * acme_jws_parse(): strict parse of a flattened JWS body (len bytes, need
 * not be NUL-terminated) into *jws (caller-owned; release with
 * acme_jws_clear, also after a failure).  Checks (STYLE.md order, RFC 8555
 * 6.2): JSON object without duplicate members holding exactly "protected",
 * "payload" and "signature" strings; base64url without padding; protected
 * header an object with a string "alg", exactly one of "jwk" (object) and
 * "kid" (string), string "nonce" and "url" when present.  A header with
 * "alg" "none" or a MAC alg is badSignatureAlgorithm.  Other faults are
 * malformed.
 */
int acme_jws_parse(acme_jws_t *jws, const char *body, size_t len,
    acme_problem_t *p);

/*
 * acme_jws_verify(): checks that jws->alg is accepted and fits key (RSA
 * for RS* and PS*, the alg's curve for ES*, Ed25519 for EdDSA; otherwise
 * badSignatureAlgorithm) and that the signature verifies (otherwise
 * malformed, RFC 8555 6.2).  key is borrowed.
 */
int acme_jws_verify(const acme_jws_t *jws, EVP_PKEY *key,
    acme_problem_t *p);

/*
 * acme_jws_signing_input(): the JWS Signing Input (RFC 7515 5.2), the
 * encoded protected header and payload exactly as received, joined by
 * '.': prot (prot_len bytes) and pay (pay_len bytes), neither
 * NUL-terminated.  Returns a new NUL-terminated string the caller frees,
 * its length in *len; NULL if memory ran out.  Also for the inner JWS of
 * an external account binding (RFC 8555 7.3.4).
 */
char *acme_jws_signing_input(const char *prot, size_t prot_len,
    const char *pay, size_t pay_len, size_t *len);

/* releases what acme_jws_parse() allocated; safe on a zeroed struct */
void acme_jws_clear(acme_jws_t *jws);


#endif /* ACME_JWS_H */
