/*
 * Copyright (C) nginx-acme-server authors
 *
 * The signer: issues end-entity certificates with the CA key held in a
 * PKCS#11 token (libp11; SoftHSM2 by default).  Every libp11 call of the
 * project is in acme_ca_p11.c.
 */

#ifndef ACME_CA_H
#define ACME_CA_H

#include <time.h>
#include <openssl/x509.h>
#include "../acme/acme_core.h"


typedef struct acme_ca_s  acme_ca_t;

/* what to issue: RFC 5280 profile of a TLS server certificate */
typedef struct {
    X509_REQ            *req;        /* checked CSR (borrowed) */
    const char *const   *types;      /* "dns" or "ip"; NULL: all dns */
    const char *const   *names;      /* normalized identifier values */
    size_t               nnames;
    const unsigned char *serial;     /* big-endian, first bit clear */
    size_t               serial_len;
    time_t               not_before;
    time_t               not_after;
    int                  server_auth;   /* EKU id-kp-serverAuth */
    int                  client_auth;   /* EKU id-kp-clientAuth */
    const char          *crl_url;       /* CRL distribution point or NULL */
    const char          *issuer_url;    /* AIA caIssuers or NULL */
} acme_ca_issue_t;


/*
 * acme_ca_p11_open(): loads the PKCS#11 module (path), finds the token and
 * private key named by key_uri (RFC 7512: "pkcs11:" with token=, object=
 * and/or id= attributes), logs in with pin, and takes the issuer
 * certificate from the first certificate of chain_pem (NUL-terminated).
 * The issuer certificate's public key must be the token key's.  Retries a
 * racy token open (SoftHSM2 file store, RECIPES.md 3) up to 20 times.
 * Call after fork (never in nginx's master).  Returns a new handle (free
 * with acme_ca_free) or NULL with a message in err (errlen bytes); the
 * PIN is never put in err.
 */
acme_ca_t *acme_ca_p11_open(const char *module, const char *key_uri,
    const char *pin, const char *chain_pem, char *err, size_t errlen);

/*
 * acme_ca_issue(): signs a certificate for *in (RFC 5280 4.1; SAN with the
 * names as dNSName or iPAddress (RFC 8738), the first dns name as CN,
 * the EKUs asked for (at least one), CRL distribution point and AIA
 * caIssuers when given, SKI and AKI, basicConstraints CA:FALSE).  On
 * ACME_OK *der is a new malloc'ed DER certificate of *der_len octets
 * (caller frees).  Safe to call from several threads at once.
 */
int acme_ca_issue(acme_ca_t *ca, const acme_ca_issue_t *in,
    unsigned char **der, size_t *der_len, char *err, size_t errlen);

void acme_ca_free(acme_ca_t *ca);


#endif /* ACME_CA_H */
