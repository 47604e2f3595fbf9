/*
 * Copyright (C) nginx-acme-server authors
 */

#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "acme_jwk.h"
#include "acme_csr.h"


static int
acme_csr_key_check(X509_REQ *r, EVP_PKEY *key, unsigned key_types,
    acme_problem_t *p)
{
    int          bits, ptype;
    char         group[32];
    X509_ALGOR  *alg;

    switch (EVP_PKEY_get_base_id(key)) {

    case EVP_PKEY_RSA:
        bits = EVP_PKEY_get_bits(key);

        if (!(key_types & ACME_KEY_RSA)) {
            break;
        }

        if (bits < ACME_RSA_MIN_BITS || bits > ACME_RSA_MAX_BITS) {
            return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                    "CSR RSA key has %d bits; %d to %d are "
                                    "accepted", bits, ACME_RSA_MIN_BITS,
                                    ACME_RSA_MAX_BITS);
        }

        return ACME_OK;

    case EVP_PKEY_EC:
        /* RFC 5480 2.1.1: namedCurve; specifiedCurve and implicitCurve
         * MUST NOT be used (OpenSSL names an explicit P-256 "prime256v1",
         * and the certificate would repeat the parameters) */
        if (!X509_PUBKEY_get0_param(NULL, NULL, NULL, &alg,
                                    X509_REQ_get_X509_PUBKEY(r)))
        {
            break;
        }

        X509_ALGOR_get0(NULL, &ptype, NULL, alg);

        if (ptype != V_ASN1_OBJECT) {
            return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                    "CSR EC key has explicit curve "
                                    "parameters; a named curve is required "
                                    "(RFC 5480 2.1.1)");
        }

        if (!EVP_PKEY_get_utf8_string_param(key, "group", group,
                                            sizeof(group), NULL))
        {
            break;
        }

        if ((strcmp(group, "prime256v1") == 0 && (key_types & ACME_KEY_P256))
            || (strcmp(group, "secp384r1") == 0
                && (key_types & ACME_KEY_P384)))
        {
            return ACME_OK;
        }

        return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                "CSR EC key on curve %s is not accepted",
                                group);

    case EVP_PKEY_ED25519:
        if (key_types & ACME_KEY_ED25519) {
            return ACME_OK;
        }

        break;
    }

    return acme_problem_set(p, ACME_PROB_BAD_CSR,
                            "CSR public key type is not accepted");
}


static int
acme_csr_names_check(X509_REQ *req, const char *const *types,
    const char *const *names, size_t n, acme_problem_t *p)
{
    int                     i, cn_len, found;
    size_t                  j, count, len;
    X509_NAME              *subj;
    ASN1_STRING            *d;
    unsigned char           ip[16];
    char                    seen[ACME_CSR_MAX_NAMES];
    const char             *s;
    GENERAL_NAME           *gn;
    X509_EXTENSION         *ext;
    ASN1_IA5STRING         *ia5;
    GENERAL_NAMES          *san;
    STACK_OF(X509_EXTENSION) *exts;

    if (n > ACME_CSR_MAX_NAMES) {
        return acme_problem_set(p, ACME_PROB_BAD_CSR, "too many names");
    }

    memset(seen, 0, sizeof(seen));
    san = NULL;
    exts = X509_REQ_get_extensions(req);

    for (i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
        ext = sk_X509_EXTENSION_value(exts, i);

        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext))
            == NID_subject_alt_name)
        {
            if (san != NULL) {
                GENERAL_NAMES_free(san);
                sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
                return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                        "CSR has two subjectAltName "
                                        "extensions");
            }

            san = X509V3_EXT_d2i(ext);
            if (san == NULL) {
                sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
                ERR_clear_error();
                return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                        "CSR subjectAltName does not parse");
            }
        }
    }

    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

    count = 0;

    for (i = 0; san && i < sk_GENERAL_NAME_num(san); i++) {
        gn = sk_GENERAL_NAME_value(san, i);

        if (gn->type != GEN_DNS && gn->type != GEN_IPADD) {
            GENERAL_NAMES_free(san);
            return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                    "CSR requests a subjectAltName that is "
                                    "neither a dNSName nor an iPAddress");
        }

        ia5 = (gn->type == GEN_DNS) ? gn->d.dNSName : gn->d.iPAddress;
        s = (const char *) ASN1_STRING_get0_data(ia5);
        len = (size_t) ASN1_STRING_length(ia5);
        found = 0;

        for (j = 0; j < n && !found; j++) {
            if (gn->type == GEN_DNS) {
                /* RFC 8555 7.4: the names are the dns identifiers */
                found = (types == NULL || strcmp(types[j], "dns") == 0)
                        && len == strlen(names[j])
                        && strncasecmp(s, names[j], len) == 0;

            } else {
                /* RFC 8738 3: iPAddress SANs are the ip identifiers */
                found = types != NULL && strcmp(types[j], "ip") == 0
                        && inet_pton(len == 4 ? AF_INET : AF_INET6,
                                     names[j], ip) == 1
                        && (len == 4 || len == 16)
                        && memcmp(ip, s, len) == 0;
            }

            if (found && !seen[j]) {
                seen[j] = 1;
                count++;
            }
        }

        if (!found) {
            /* s points into san: format before freeing it */
            if (gn->type == GEN_DNS) {
                acme_problem_set(p, ACME_PROB_BAD_CSR,
                                 "CSR requests the name \"%.*s\", which is "
                                 "not an identifier of the order",
                                 len > 253 ? 253 : (int) len, s);

            } else {
                acme_problem_set(p, ACME_PROB_BAD_CSR,
                                 "CSR requests an IP address that is not "
                                 "an identifier of the order");
            }

            GENERAL_NAMES_free(san);
            return ACME_ERROR;
        }
    }

    GENERAL_NAMES_free(san);

    /* RFC 8555 7.4: every CN, if any, is one of the requested names */
    subj = X509_REQ_get_subject_name(req);

    for (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subj, NID_commonName, i))
    {
        d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        s = (const char *) ASN1_STRING_get0_data(d);
        cn_len = ASN1_STRING_length(d);

        for (j = 0; j < n; j++) {
            if ((size_t) cn_len == strlen(names[j])
                && strncasecmp(s, names[j], cn_len) == 0)
            {
                break;
            }
        }

        if (j == n) {
            return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                    "CSR common name \"%.*s\" is not an "
                                    "identifier of the order",
                                    cn_len > 253 ? 253 : cn_len, s);
        }

        /* RFC 8555 7.4: a dns identifier may be requested in the CN
         * alone */
        if (!seen[j]) {
            seen[j] = 1;
            count++;
        }
    }

    if (count != n) {
        for (j = 0; j < n && seen[j]; j++) { /* void */ }

        return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                "CSR does not request the order's "
                                "identifier \"%s\"", names[j]);
    }

    return ACME_OK;
}


int
acme_csr_check(const unsigned char *der, size_t len,
    const char *const *names, size_t n, EVP_PKEY *account_key,
    unsigned key_types, X509_REQ **req, acme_problem_t *p)
{
    return acme_csr_check_idents(der, len, NULL, names, n, account_key,
                                 key_types, req, p);
}


int
acme_csr_check_idents(const unsigned char *der, size_t len,
    const char *const *types, const char *const *names, size_t n,
    EVP_PKEY *account_key, unsigned key_types, X509_REQ **req,
    acme_problem_t *p)
{
    int                   md_nid;
    EVP_PKEY             *key;
    X509_REQ             *r;
    const unsigned char  *q;

    *req = NULL;
    q = der;

    r = d2i_X509_REQ(NULL, &q, (long) len);
    if (r == NULL || q != der + len) {
        X509_REQ_free(r);
        ERR_clear_error();
        return acme_problem_set(p, ACME_PROB_BAD_CSR,
                                "CSR is not a DER-encoded PKCS#10 request");
    }

    key = X509_REQ_get0_pubkey(r);
    if (key == NULL) {
        ERR_clear_error();
        acme_problem_set(p, ACME_PROB_BAD_CSR, "CSR public key is invalid");
        goto failed;
    }

    /* CA/B BR 7.1.3: no SHA-1 (or MD5) signed requests */
    if (OBJ_find_sigid_algs(X509_REQ_get_signature_nid(r), &md_nid, NULL)
        && (md_nid == NID_sha1 || md_nid == NID_md5))
    {
        acme_problem_set(p, ACME_PROB_BAD_CSR,
                         "CSR is signed with a weak hash (SHA-1 or MD5)");
        goto failed;
    }

    if (X509_REQ_verify(r, key) != 1) {
        ERR_clear_error();
        acme_problem_set(p, ACME_PROB_BAD_CSR, "CSR signature is invalid");
        goto failed;
    }

    if (acme_csr_key_check(r, key, key_types, p) != ACME_OK) {
        goto failed;
    }

    if (account_key && acme_pkey_equal_public(key, account_key)) {
        acme_problem_set(p, ACME_PROB_BAD_CSR,
                         "CSR public key is the account key "
                         "(RFC 8555 11.1)");
        goto failed;
    }

    if (acme_csr_names_check(r, types, names, n, p) != ACME_OK) {
        goto failed;
    }

    *req = r;

    return ACME_OK;

failed:

    X509_REQ_free(r);

    return ACME_ERROR;
}
