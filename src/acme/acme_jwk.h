/*
 * Copyright (C) nginx-acme-server authors
 *
 * JSON Web Keys (RFC 7517, RFC 7518 6, RFC 8037 2) for account keys:
 * import as an OpenSSL EVP_PKEY, canonical form and thumbprint (RFC 7638).
 */

#ifndef ACME_JWK_H
#define ACME_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include "acme_core.h"
#include "acme_problem.h"


#define ACME_RSA_MIN_BITS   2048
#define ACME_RSA_MAX_BITS   8192

/* the RFC 7638 3.2 required members in lexicographic order, as compact
 * JSON; long enough for an 8192-bit RSA modulus */
#define ACME_JWK_CANONICAL_MAX  1500


/*
 * acme_jwk_import(): a public JWK object (borrowed) to a new EVP_PKEY
 * (caller frees with EVP_PKEY_free).  Accepts kty "RSA" (2048..8192 bits,
 * odd e > 1), "EC" (P-256, P-384, P-521; x and y of the field's exact size,
 * point on the curve) and "OKP" (Ed25519).  A JWK with private members
 * ("d", "p", "q", "dp", "dq", "qi", "oth", "k") or of an unknown kty/crv is
 * refused with badPublicKey (RFC 8555 6.7).  canonical (may be NULL,
 * ACME_JWK_CANONICAL_MAX bytes) receives the RFC 7638 canonical JSON.
 */
int acme_jwk_import(const json_t *jwk, EVP_PKEY **pkey, char *canonical,
    acme_problem_t *p);

/*
 * acme_jwk_thumbprint(): RFC 7638 3: base64url(SHA-256(canonical)) into
 * out (ACME_THUMBPRINT_LEN + 1 bytes, NUL-terminated).
 */
int acme_jwk_thumbprint(const char *canonical, size_t len, char *out);

/*
 * acme_key_authorization(): RFC 8555 8.1 token || '.' || thumbprint into
 * out (caller-owned, size bytes, NUL-terminated).  ACME_ERROR when it does
 * not fit.
 */
int acme_key_authorization(const char *token, const char *thumbprint,
    char *out, size_t size);

/*
 * acme_pkey_equal_public(): 1 when both keys have the same public part
 * (used for "the CSR key is not the account key", RFC 8555 11.1), else 0.
 */
int acme_pkey_equal_public(EVP_PKEY *a, EVP_PKEY *b);


#endif /* ACME_JWK_H */
