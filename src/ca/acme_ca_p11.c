/*
 * Copyright (C) nginx-acme-server authors
 *
 * PKCS#11 signer through libp11.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <pthread.h>
#include <unistd.h>
#include <libp11.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "acme_ca.h"


#define ACME_CA_OPEN_TRIES  20


struct acme_ca_s {
    PKCS11_CTX       *ctx;
    int               loaded;
    PKCS11_SLOT      *slots;
    unsigned int      nslots;
    EVP_PKEY         *key;
    X509             *issuer;
    const EVP_MD     *md;
    pthread_mutex_t   lock;
};


typedef struct {
    char           token[64];
    char           object[128];
    unsigned char  id[64];
    size_t         id_len;
} acme_ca_uri_t;


static void
acme_ca_err(char *err, size_t errlen, const char *what)
{
    unsigned long  e;
    char           buf[256];

    e = ERR_peek_last_error();

    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err, errlen, "%s (%s)", what, buf);

    } else {
        snprintf(err, errlen, "%s", what);
    }

    ERR_clear_error();
}


/* RFC 7512 2.3: percent-decoding of an attribute value */
static int
acme_ca_pct(const char *s, size_t n, unsigned char *out, size_t size,
    size_t *len)
{
    size_t        i, o;
    unsigned int  b;

    for (i = 0, o = 0; i < n; i++) {
        if (o >= size) {
            return ACME_ERROR;
        }

        if (s[i] == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char) s[i + 1])
                || !isxdigit((unsigned char) s[i + 2])
                || sscanf(s + i + 1, "%2x", &b) != 1)
            {
                return ACME_ERROR;
            }

            out[o++] = (unsigned char) b;
            i += 2;

        } else {
            out[o++] = (unsigned char) s[i];
        }
    }

    *len = o;

    return ACME_OK;
}


static int
acme_ca_uri_parse(const char *uri, acme_ca_uri_t *u)
{
    size_t       n, len;
    const char  *p, *e, *eq;

    memset(u, 0, sizeof(*u));

    if (strncmp(uri, "pkcs11:", 7) != 0) {
        return ACME_ERROR;
    }

    for (p = uri + 7; *p; p = (*e == ';') ? e + 1 : e) {
        e = p + strcspn(p, ";?");
        eq = memchr(p, '=', e - p);

        if (eq == NULL) {
            if (*e == '?') {
                break;
            }

            continue;
        }

        n = eq - p;
        len = 0;

        if (n == 5 && strncmp(p, "token", 5) == 0) {
            if (acme_ca_pct(eq + 1, e - eq - 1, (unsigned char *) u->token,
                            sizeof(u->token) - 1, &len) != ACME_OK)
            {
                return ACME_ERROR;
            }

            u->token[len] = '\0';

        } else if (n == 6 && strncmp(p, "object", 6) == 0) {
            if (acme_ca_pct(eq + 1, e - eq - 1, (unsigned char *) u->object,
                            sizeof(u->object) - 1, &len) != ACME_OK)
            {
                return ACME_ERROR;
            }

            u->object[len] = '\0';

        } else if (n == 2 && strncmp(p, "id", 2) == 0) {
            if (acme_ca_pct(eq + 1, e - eq - 1, u->id, sizeof(u->id),
                            &u->id_len) != ACME_OK)
            {
                return ACME_ERROR;
            }
        }

        if (*e == '?' || *e == '\0') {
            break;
        }
    }

    return (u->object[0] || u->id_len) ? ACME_OK : ACME_ERROR;
}


static void
acme_ca_release(acme_ca_t *ca)
{
    if (ca->key) {
        EVP_PKEY_free(ca->key);
        ca->key = NULL;
    }

    if (ca->slots) {
        PKCS11_release_all_slots(ca->ctx, ca->slots, ca->nslots);
        ca->slots = NULL;
        ca->nslots = 0;
    }

    if (ca->ctx) {
        /* libp11 0.4.12 crashes unloading a module whose load failed */
        if (ca->loaded) {
            PKCS11_CTX_unload(ca->ctx);
            ca->loaded = 0;
        }

        PKCS11_CTX_free(ca->ctx);
        ca->ctx = NULL;
    }

    ERR_clear_error();
}


static int
acme_ca_try_open(acme_ca_t *ca, const char *module, const acme_ca_uri_t *u,
    const char *pin, char *err, size_t errlen)
{
    unsigned int   i, nkeys;
    PKCS11_KEY    *keys, *k;
    PKCS11_SLOT   *slot, *s;

    ca->ctx = PKCS11_CTX_new();
    if (ca->ctx == NULL) {
        snprintf(err, errlen, "PKCS11_CTX_new() failed");
        return ACME_ERROR;
    }

    if (PKCS11_CTX_load(ca->ctx, module) != 0) {
        acme_ca_err(err, errlen, "cannot load the PKCS#11 module");
        return ACME_ERROR;
    }

    ca->loaded = 1;

    if (PKCS11_enumerate_slots(ca->ctx, &ca->slots, &ca->nslots) != 0) {
        acme_ca_err(err, errlen, "cannot enumerate PKCS#11 slots");
        return ACME_ERROR;
    }

    slot = NULL;
    s = NULL;

    while ((s = PKCS11_find_next_token(ca->ctx, ca->slots, ca->nslots, s))) {
        if (s->token->initialized
            && (u->token[0] == '\0' || strcmp(s->token->label, u->token) == 0))
        {
            slot = s;
            break;
        }
    }

    if (slot == NULL) {
        snprintf(err, errlen, "PKCS#11 token \"%s\" not found", u->token);
        return ACME_ERROR;
    }

    if (PKCS11_open_session(slot, 0) != 0) {
        acme_ca_err(err, errlen, "cannot open a PKCS#11 session");
        return ACME_ERROR;
    }

    if (PKCS11_login(slot, 0, pin) != 0) {
        acme_ca_err(err, errlen, "PKCS#11 login failed");
        return ACME_ERROR;
    }

    if (PKCS11_enumerate_keys(slot->token, &keys, &nkeys) != 0) {
        acme_ca_err(err, errlen, "cannot list the token's private keys");
        return ACME_ERROR;
    }

    k = NULL;

    for (i = 0; i < nkeys; i++) {
        if (u->object[0] && (keys[i].label == NULL
                             || strcmp(keys[i].label, u->object) != 0))
        {
            continue;
        }

        if (u->id_len && (keys[i].id_len != u->id_len
                          || memcmp(keys[i].id, u->id, u->id_len) != 0))
        {
            continue;
        }

        k = &keys[i];
        break;
    }

    if (k == NULL) {
        snprintf(err, errlen, "private key \"%s\" not found in token \"%s\"",
                 u->object, slot->token->label);
        return ACME_ERROR;
    }

    ca->key = PKCS11_get_private_key(k);
    if (ca->key == NULL) {
        acme_ca_err(err, errlen, "cannot use the token's private key");
        return ACME_ERROR;
    }

    return ACME_OK;
}


acme_ca_t *
acme_ca_p11_open(const char *module, const char *key_uri, const char *pin,
    const char *chain_pem, char *err, size_t errlen)
{
    int             i, bits;
    BIO            *bio;
    EVP_PKEY       *pub;
    acme_ca_t      *ca;
    acme_ca_uri_t   u;
    unsigned char   r;

    if (acme_ca_uri_parse(key_uri, &u) != ACME_OK) {
        snprintf(err, errlen, "bad PKCS#11 URI \"%s\": need \"pkcs11:\" with "
                 "object= or id= (RFC 7512)", key_uri);
        return NULL;
    }

    ca = calloc(1, sizeof(acme_ca_t));
    if (ca == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    bio = BIO_new_mem_buf(chain_pem, -1);
    ca->issuer = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);

    if (ca->issuer == NULL) {
        acme_ca_err(err, errlen, "no certificate in the CA chain");
        free(ca);
        return NULL;
    }

    for (i = 0; i < ACME_CA_OPEN_TRIES; i++) {
        if (acme_ca_try_open(ca, module, &u, pin, err, errlen) == ACME_OK) {
            break;
        }

        acme_ca_release(ca);

        /* SoftHSMv2 #757: concurrent opens of a file token may fail */
        if (RAND_bytes(&r, 1) != 1) {
            r = 0;
        }

        usleep(10000 + (r % 50) * 1000);
    }

    if (ca->key == NULL) {
        X509_free(ca->issuer);
        free(ca);
        return NULL;
    }

    pub = X509_get0_pubkey(ca->issuer);
    if (pub == NULL || EVP_PKEY_eq(pub, ca->key) != 1) {
        /* libp11 keys compare by their public part */
        ERR_clear_error();
        snprintf(err, errlen, "the CA certificate's public key is not the "
                 "token key's");
        acme_ca_free(ca);
        return NULL;
    }

    bits = EVP_PKEY_get_bits(pub);
    ca->md = (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC && bits > 256)
             ? EVP_sha384() : EVP_sha256();

    pthread_mutex_init(&ca->lock, NULL);

    return ca;
}


static int
acme_ca_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    int              ok;
    X509_EXTENSION  *ext;

    ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (ext == NULL) {
        return 0;
    }

    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);

    return ok;
}


static int
acme_ca_san(X509 *x, const char *const *types, const char *const *names,
    size_t n)
{
    int              ok, ip;
    size_t           i;
    GENERAL_NAME    *gn;
    GENERAL_NAMES   *gens;
    unsigned char    addr[16];
    ASN1_STRING     *str;

    gens = GENERAL_NAMES_new();
    if (gens == NULL) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        ip = types != NULL && strcmp(types[i], "ip") == 0;
        gn = GENERAL_NAME_new();
        str = ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

        if (gn == NULL || str == NULL) {
            goto failed;
        }

        if (ip) {
            /* RFC 5280 4.2.1.6: 4 or 16 octets in network order */
            if (strchr(names[i], ':')) {
                ok = inet_pton(AF_INET6, names[i], addr) == 1
                     && ASN1_OCTET_STRING_set(str, addr, 16);

            } else {
                ok = inet_pton(AF_INET, names[i], addr) == 1
                     && ASN1_OCTET_STRING_set(str, addr, 4);
            }

        } else {
            ok = ASN1_STRING_set(str, names[i], (int) strlen(names[i]));
        }

        if (!ok) {
            goto failed;
        }

        GENERAL_NAME_set0_value(gn, ip ? GEN_IPADD : GEN_DNS, str);
        str = NULL;

        if (!sk_GENERAL_NAME_push(gens, gn)) {
            goto failed;
        }

        continue;

    failed:

        GENERAL_NAME_free(gn);
        ASN1_STRING_free(str);
        GENERAL_NAMES_free(gens);
        return 0;
    }

    ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0);
    GENERAL_NAMES_free(gens);

    return ok;
}


/*
 * The certificate's SubjectPublicKeyInfo (RFC 5280 4.1.2.7) as a copy of
 * the CSR's, field by field: the same DER as X509_set_pubkey() writes, but
 * that call encodes the key through OpenSSL 3's encoders and decodes the
 * result again, a quarter of a millisecond per certificate here
 * (bench/RESULTS.md, fourth round).  Only the canonical shapes are copied,
 * whose parameters the certificate may carry as they are: rsaEncryption
 * with NULL (RFC 3279 2.3.1), id-ecPublicKey with a named curve's OID
 * (RFC 5480 2.1.1; OBJ_dup() re-encodes it), Ed25519 and Ed448 with none
 * (RFC 8410 3).  Anything else the CSR parser let through (parameters
 * absent, not DER, or junk) takes X509_set_pubkey(), which writes them
 * afresh.  1 on success, 0 on failure (out of memory).
 */
static int
acme_ca_spki_copy(X509 *x, X509_REQ *req, EVP_PKEY *pub)
{
    int                   nid, ptype, len;
    void                 *pval;
    X509_ALGOR           *alg;
    const void           *sval;
    ASN1_OBJECT          *obj, *aobj;
    unsigned char        *enc;
    const unsigned char  *bits;

    if (!X509_PUBKEY_get0_param(&obj, &bits, &len, &alg,
                                X509_REQ_get_X509_PUBKEY(req)))
    {
        return 0;
    }

    X509_ALGOR_get0(NULL, &ptype, &sval, alg);
    nid = OBJ_obj2nid(obj);

    if (!((nid == NID_rsaEncryption && ptype == V_ASN1_NULL)
          || (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT
              && OBJ_obj2nid(sval) != NID_undef)
          || ((nid == NID_ED25519 || nid == NID_ED448)
              && ptype == V_ASN1_UNDEF))
        || len <= 0)
    {
        return X509_set_pubkey(x, pub);
    }

    pval = NULL;

    if (ptype == V_ASN1_OBJECT) {
        pval = OBJ_dup(sval);
        if (pval == NULL) {
            return 0;
        }
    }

    aobj = OBJ_dup(obj);
    enc = OPENSSL_memdup(bits, (size_t) len);

    if (aobj == NULL || enc == NULL
        || !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), aobj, ptype,
                                   pval, enc, len))
    {
        ASN1_OBJECT_free(aobj);
        ASN1_OBJECT_free(pval);
        OPENSSL_free(enc);
        return 0;
    }

    return 1;
}


int
acme_ca_issue(acme_ca_t *ca, const acme_ca_issue_t *in, unsigned char **der,
    size_t *der_len, char *err, size_t errlen)
{
    int            n, ok;
    char           buf[1100];
    size_t         i;
    X509          *x;
    BIGNUM        *bn;
    EVP_PKEY      *pub;
    X509_NAME     *subj;
    X509V3_CTX     v3;
    ASN1_INTEGER  *serial;
    unsigned char *p;

    *der = NULL;
    ok = 0;
    bn = NULL;
    serial = NULL;
    subj = NULL;

    x = X509_new();
    pub = X509_REQ_get0_pubkey(in->req);

    if (x == NULL || pub == NULL || in->nnames == 0) {
        acme_ca_err(err, errlen, "cannot start a certificate");
        goto failed;
    }

    bn = BN_bin2bn(in->serial, (int) in->serial_len, NULL);
    serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    subj = X509_NAME_new();

    if (serial == NULL || subj == NULL
        || !X509_set_version(x, X509_VERSION_3)
        || !X509_set_serialNumber(x, serial)
        || !X509_set_issuer_name(x, X509_get_subject_name(ca->issuer))
        || !ASN1_TIME_set(X509_getm_notBefore(x), in->not_before)
        || !ASN1_TIME_set(X509_getm_notAfter(x), in->not_after)
        || !acme_ca_spki_copy(x, in->req, pub))
    {
        acme_ca_err(err, errlen, "cannot fill the certificate");
        goto failed;
    }

    /* CA/B BR 7.1.4.3: a CN, if any, is one of the SANs; 64 octets max
     * (RFC 5280 ub-common-name); the first dns name that fits */
    for (i = 0; i < in->nnames; i++) {
        if ((in->types == NULL || strcmp(in->types[i], "dns") == 0)
            && strlen(in->names[i]) <= 64)
        {
            break;
        }
    }

    if (i < in->nnames
        && !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
                                       (const unsigned char *) in->names[i],
                                       -1, -1, 0))
    {
        acme_ca_err(err, errlen, "cannot set the subject");
        goto failed;
    }

    if (!X509_set_subject_name(x, subj)) {
        acme_ca_err(err, errlen, "cannot set the subject");
        goto failed;
    }

    X509V3_set_ctx(&v3, ca->issuer, x, NULL, NULL, 0);

    if (!acme_ca_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE")
        || !acme_ca_ext(x, &v3, NID_key_usage,
                        EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA
                        ? "critical,digitalSignature,keyEncipherment"
                        : "critical,digitalSignature")
        || !acme_ca_ext(x, &v3, NID_ext_key_usage,
                        (in->server_auth && in->client_auth)
                        ? "serverAuth,clientAuth"
                        : in->client_auth ? "clientAuth" : "serverAuth")
        || !acme_ca_ext(x, &v3, NID_subject_key_identifier, "hash")
        || !acme_ca_ext(x, &v3, NID_authority_key_identifier, "keyid:always")
        || !acme_ca_san(x, in->types, in->names, in->nnames))
    {
        acme_ca_err(err, errlen, "cannot add the certificate's extensions");
        goto failed;
    }

    /* RFC 5280 4.2.1.13 and 4.2.2.1 */
    if (in->crl_url) {
        snprintf(buf, sizeof(buf), "URI:%s", in->crl_url);

        if (!acme_ca_ext(x, &v3, NID_crl_distribution_points, buf)) {
            acme_ca_err(err, errlen, "cannot add the CRL distribution point");
            goto failed;
        }
    }

    if (in->issuer_url) {
        snprintf(buf, sizeof(buf), "caIssuers;URI:%s", in->issuer_url);

        if (!acme_ca_ext(x, &v3, NID_info_access, buf)) {
            acme_ca_err(err, errlen, "cannot add the authority info access");
            goto failed;
        }
    }

    pthread_mutex_lock(&ca->lock);
    n = X509_sign(x, ca->key, ca->md);
    pthread_mutex_unlock(&ca->lock);

    if (n <= 0) {
        acme_ca_err(err, errlen, "signing with the token key failed");
        goto failed;
    }

    n = i2d_X509(x, NULL);
    if (n <= 0 || (*der = malloc(n)) == NULL) {
        acme_ca_err(err, errlen, "cannot encode the certificate");
        goto failed;
    }

    p = *der;
    *der_len = (size_t) i2d_X509(x, &p);
    ok = 1;

failed:

    X509_NAME_free(subj);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);

    return ok ? ACME_OK : ACME_ERROR;
}


void
acme_ca_free(acme_ca_t *ca)
{
    if (ca == NULL) {
        return;
    }

    acme_ca_release(ca);
    X509_free(ca->issuer);
    free(ca);
}
