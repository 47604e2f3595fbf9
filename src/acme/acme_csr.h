/*
 * Copyright (C) nginx-acme-server authors
 *
 * Certificate signing requests at finalize (RFC 8555 7.4, RFC 2986).
 */

#ifndef ACME_CSR_H
#define ACME_CSR_H

#include <openssl/x509.h>
#include "acme_core.h"
#include "acme_problem.h"


/* key types a CSR may carry (bit mask) */
#define ACME_KEY_RSA      0x01
#define ACME_KEY_P256     0x02
#define ACME_KEY_P384     0x04
#define ACME_KEY_ED25519  0x08
#define ACME_KEY_DEFAULT  (ACME_KEY_RSA | ACME_KEY_P256 | ACME_KEY_P384)

#define ACME_CSR_MAX_NAMES  100


/*
 * acme_csr_check(): der (len octets) is a DER CSR that
 *   - parses and is signed by its own key (RFC 2986),
 *   - has a public key of a type in key_types (RSA 2048..8192 bits),
 *   - whose key is not account_key (RFC 8555 11.1),
 *   - requests exactly the names of the order: the set of its SAN dNSNames
 *     (compared lowercase) equals names[0..n-1] (normalized, no
 *     duplicates), no other SAN types, and a subject CN, if any, among them
 *     (RFC 8555 7.4).
 * On ACME_OK *req receives the parsed request (new reference, caller frees
 * with X509_REQ_free).  Every fault is badCSR with a detail naming it.
 */
int acme_csr_check(const unsigned char *der, size_t len,
    const char *const *names, size_t n, EVP_PKEY *account_key,
    unsigned key_types, X509_REQ **req, acme_problem_t *p);

/*
 * acme_csr_check_idents(): the same for typed identifiers: types[i] is
 * "dns" (names[i] matched by a dNSName SAN) or "ip" (names[i], textual
 * IPv4/IPv6, matched by an iPAddress SAN, RFC 8738 3).  types NULL means
 * every identifier is "dns".
 */
int acme_csr_check_idents(const unsigned char *der, size_t len,
    const char *const *types, const char *const *names, size_t n,
    EVP_PKEY *account_key, unsigned key_types, X509_REQ **req,
    acme_problem_t *p);


#endif /* ACME_CSR_H */
