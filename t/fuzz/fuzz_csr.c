/*
 * Copyright (C) nginx-acme-server authors
 *
 * libFuzzer target: DER octets through acme_csr_check_idents() against a
 * few fixed orders (dns, ip, mixed, wildcard, none) and the fixed P-256
 * account key (RFC 8555 7.4 and 11.1).  Input: the CSR as finalize decodes
 * it from base64url.  A CSR that passes requests exactly the order's
 * names, so its SANs are checked again here, independently: every one
 * is a name of the order, of the right type.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include "acme/acme_csr.h"
#include "fuzz_common.h"


typedef struct {
    const char  *types[3];
    const char  *names[3];
    size_t       n;
    unsigned     key_types;
} fuzz_order_t;


/* the same orders as make_seeds.py csr_seeds() */
static const fuzz_order_t  fuzz_orders[] = {
    { { "dns" }, { "example.com" }, 1, ACME_KEY_DEFAULT },
    { { "dns", "dns" }, { "example.com", "www.example.com" }, 2,
      ACME_KEY_DEFAULT | ACME_KEY_ED25519 },
    { { "ip", "dns" }, { "192.0.2.1", "example.com" }, 2, ACME_KEY_DEFAULT },
    { { "ip" }, { "2001:db8::1" }, 1, ACME_KEY_P256 },
    { { "dns", "dns" }, { "*.example.com", "example.com" }, 2,
      ACME_KEY_DEFAULT },
    { { NULL }, { NULL }, 0, ACME_KEY_DEFAULT },
};

static EVP_PKEY  *fuzz_account;

/* strict: fail on every broken invariant.  Once FUZZ_STRICT only (known
 * bugs were tolerated); those bugs are fixed, so every run is strict, and
 * their inputs are regression seeds in the corpus */
static int        fuzz_strict;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_account = fuzz_key(FUZZ_JWK_EC256);
    fuzz_strict = 1;

    return 0;
}


/* the SAN of a passing CSR is one of the order's names */
static int
fuzz_csr_name_in(const GENERAL_NAME *gn, const fuzz_order_t *o)
{
    int                   len;
    size_t                j;
    unsigned char         ip[16];
    const unsigned char  *s;

    s = ASN1_STRING_get0_data(gn->d.ia5);
    len = ASN1_STRING_length(gn->d.ia5);

    for (j = 0; j < o->n; j++) {
        if (gn->type == GEN_DNS && strcmp(o->types[j], "dns") == 0
            && (size_t) len == strlen(o->names[j])
            && strncasecmp((const char *) s, o->names[j], len) == 0)
        {
            return 1;
        }

        if (gn->type == GEN_IPADD && strcmp(o->types[j], "ip") == 0
            && inet_pton(len == 4 ? AF_INET : AF_INET6, o->names[j], ip)
               == 1
            && (len == 4 || len == 16) && memcmp(ip, s, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* a name of the order, of type dns: the same octets, compared lowercase */
static int
fuzz_csr_dns_in(const unsigned char *s, int len, const fuzz_order_t *o)
{
    size_t  j;

    if (memchr(s, '\0', len) != NULL) {
        return 0;
    }

    for (j = 0; j < o->n; j++) {
        if (strcmp(o->types[j], "dns") == 0
            && (size_t) len == strlen(o->names[j])
            && strncasecmp((const char *) s, o->names[j], len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * RFC 8555 7.4: every subject CN of a passing CSR is a dns name of the
 * order (the core once checked the first CN only, as a C string: the
 * corpus seed two-cns).
 */
static void
fuzz_csr_cn_check(X509_REQ *req, const fuzz_order_t *o)
{
    int                 i, k, len;
    X509_NAME          *subj;
    ASN1_STRING        *data;
    const unsigned char *s;

    subj = X509_REQ_get_subject_name(req);

    for (i = -1, k = 0;
         (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;
         k++)
    {
        data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        s = ASN1_STRING_get0_data(data);
        len = ASN1_STRING_length(data);

        if (fuzz_csr_dns_in(s, len, o)) {
            continue;
        }

        /* the first CN without a NUL is checked by the core today */
        FUZZ_CHECK(k > 0 || memchr(s, '\0', len) != NULL);
        FUZZ_CHECK(!fuzz_strict);
    }
}


/* the one subjectAltName extension of a passing CSR, decoded */
static GENERAL_NAMES *
fuzz_csr_san(X509_REQ *req)
{
    int                        i;
    GENERAL_NAMES             *san;
    X509_EXTENSION            *ext;
    STACK_OF(X509_EXTENSION)  *exts;

    san = NULL;
    exts = X509_REQ_get_extensions(req);

    for (i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
        ext = sk_X509_EXTENSION_value(exts, i);

        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext))
            == NID_subject_alt_name)
        {
            FUZZ_CHECK(san == NULL);
            san = X509V3_EXT_d2i(ext);
            FUZZ_CHECK(san != NULL);
        }
    }

    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

    return san;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  i;
    size_t               k;
    X509_REQ            *req;
    GENERAL_NAMES       *san;
    acme_problem_t       p;
    const fuzz_order_t  *o;

    for (k = 0; k < sizeof(fuzz_orders) / sizeof(fuzz_orders[0]); k++) {
        o = &fuzz_orders[k];
        req = (X509_REQ *) &p;      /* must be reset to NULL */

        if (acme_csr_check_idents(data, size, o->types, o->names, o->n,
                                  fuzz_account, o->key_types, &req, &p)
            != ACME_OK)
        {
            FUZZ_CHECK(req == NULL);
            fuzz_problem_check(&p, ACME_PROB_BAD_CSR);
            continue;
        }

        FUZZ_CHECK(req != NULL);

        /* RFC 8555 7.4: the names are requested by SANs or by the CN
         * alone, so a passing CSR has one or the other */
        san = fuzz_csr_san(req);
        FUZZ_CHECK(o->n == 0 || san != NULL
                   || X509_NAME_get_index_by_NID(
                          X509_REQ_get_subject_name(req), NID_commonName,
                          -1) >= 0);

        for (i = 0; san && i < sk_GENERAL_NAME_num(san); i++) {
            FUZZ_CHECK(fuzz_csr_name_in(sk_GENERAL_NAME_value(san, i), o));
        }

        GENERAL_NAMES_free(san);
        fuzz_csr_cn_check(req, o);
        X509_REQ_free(req);
    }

    ERR_clear_error();

    return 0;
}
