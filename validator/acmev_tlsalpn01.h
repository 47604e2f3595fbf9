/*
 * Copyright (C) nginx-acme-server authors
 *
 * tls-alpn-01 challenge check (RFC 8737, and RFC 8738 6 for IP
 * identifiers).  The validator's TLS client (OpenSSL) is in
 * acmev_tlsalpn01.c.  Blocking; call from a worker thread.
 */

#ifndef ACMEV_TLSALPN01_H
#define ACMEV_TLSALPN01_H

#include "acme/acme_problem.h"
#include "store/acme_store_pg.h"
#include "acmev_conf.h"


/* the whole check may take this many conf->timeout steps: AAAA, A,
 * connect and handshake */
#define ACMEV_TLSALPN01_STEPS      4

/* RFC 8737 6.2: the ALPN protocol id, as its wire form (length prefix) */
#define ACMEV_TLSALPN01_PROTO      "acme-tls/1"

/* RFC 8737 6.1: id-pe-acmeIdentifier */
#define ACMEV_TLSALPN01_OID        "1.3.6.1.5.5.7.1.31"


/*
 * acmev_tlsalpn01_check(): connects to the job's identifier on port
 * conf->tls_alpn01_port (RFC 8737 3: 443) - a DNS name resolved through
 * conf's resolvers (IPv6 first, IPv4 after a failed connect), or the IP
 * address itself - refusing reserved addresses unless
 * allow_private_addresses, and makes a TLS 1.2+ handshake offering only
 * the ALPN protocol "acme-tls/1", with SNI the DNS name or, for an IP, its
 * reverse-mapping name (RFC 8738 6: "4.3.2.1.in-addr.arpa").  The
 * certificate chain is not verified (RFC 8737 3).  The server must select
 * acme-tls/1, and its certificate must have exactly one subjectAltName
 * entry, a dNSName equal to the name (an iPAddress equal to the address
 * for IP identifiers), and one critical acmeIdentifier extension whose
 * value is the DER OCTET STRING of SHA-256(keyAuthorization).
 *
 * conf and job are borrowed.  *record is set to a new NUL-terminated JSON
 * array holding one validation record ({hostname, port, addressesResolved,
 * addressUsed, serverName}), caller frees with free(); NULL if memory ran
 * out.
 *
 * Returns ACMEV_OK (valid); ACMEV_EFAILED with the RFC 8555 6.7 problem in
 * *prob: dns, connection (refused, timeouts), tls (handshake failed, the
 * server refused acme-tls/1), unauthorized (acme-tls/1 not selected, wrong
 * subjectAltName, extension missing, not critical or malformed),
 * incorrectResponse (wrong digest), unauthorized for a wildcard
 * (RFC 8737 3 forbids it); or ACMEV_ENOMEM (nothing decided; retry).
 */
int acmev_tlsalpn01_check(const acmev_conf_t *conf,
    const acme_pg_job_t *job, acme_problem_t *prob, char **record);


#endif /* ACMEV_TLSALPN01_H */
