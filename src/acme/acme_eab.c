/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "acme_base64url.h"
#include "acme_jwk.h"
#include "acme_jws.h"
#include "acme_eab.h"


static const char *
acme_eab_member(const json_t *o, const char *name, size_t *len)
{
    json_t  *v;

    v = json_object_get(o, name);
    if (!json_is_string(v)) {
        return NULL;
    }

    *len = json_string_length(v);

    return json_string_value(v);
}


int
acme_eab_parse(const json_t *eab, const char *url,
    const char *account_canonical, acme_eab_t *out, acme_problem_t *p)
{
    int             rc;
    char            canonical[ACME_JWK_CANONICAL_MAX];
    size_t          plen, n;
    size_t          prot_len = 0, pay_len = 0, sig_len = 0;
    json_t         *hdr, *v;
    EVP_PKEY       *pkey;
    const char     *key, *prot, *pay, *sig, *alg, *kid, *u;
    unsigned char  *raw;

    memset(out, 0, sizeof(*out));

    if (!json_is_object(eab)) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "\"externalAccountBinding\" must be a JWS "
                                "object");
    }

    json_object_foreach((json_t *) eab, key, v) {
        if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0
            && strcmp(key, "signature") != 0)
        {
            return acme_problem_set(p, ACME_PROB_MALFORMED,
                                    "external account binding JWS member "
                                    "\"%.32s\" is not allowed", key);
        }
    }

    prot = acme_eab_member(eab, "protected", &prot_len);
    pay = acme_eab_member(eab, "payload", &pay_len);
    sig = acme_eab_member(eab, "signature", &sig_len);

    if (prot == NULL || pay == NULL || sig == NULL) {
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "external account binding needs "
                                "\"protected\", \"payload\" and "
                                "\"signature\" strings");
    }

    raw = acme_b64u_decode_alloc(prot, prot_len, &plen);
    hdr = raw ? json_loadb((char *) raw, plen, JSON_REJECT_DUPLICATES, NULL)
              : NULL;
    free(raw);

    if (!json_is_object(hdr)) {
        json_decref(hdr);
        return acme_problem_set(p, ACME_PROB_MALFORMED,
                                "external account binding protected header "
                                "is not a base64url JSON object");
    }

    rc = ACME_ERROR;
    alg = json_string_value(json_object_get(hdr, "alg"));
    kid = json_string_value(json_object_get(hdr, "kid"));
    u = json_string_value(json_object_get(hdr, "url"));

    /* RFC 8555 7.3.4: a MAC algorithm */
    if (alg == NULL || (strcmp(alg, "HS256") != 0 && strcmp(alg, "HS384") != 0
                        && strcmp(alg, "HS512") != 0))
    {
        acme_problem_set(p, ACME_PROB_BAD_SIGNATURE_ALGORITHM,
                         "external account binding \"alg\" must be HS256, "
                         "HS384 or HS512");
        goto done;
    }

    out->md = (alg[2] == '2') ? "SHA256" : (alg[2] == '3') ? "SHA384"
                                                           : "SHA512";

    if (kid == NULL || strlen(kid) == 0 || strlen(kid) > ACME_EAB_KID_MAX) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "external account binding needs a \"kid\"");
        goto done;
    }

    strcpy(out->kid, kid);

    /* RFC 8555 7.3.4: "MUST NOT contain a nonce" */
    if (json_object_get(hdr, "nonce") != NULL) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "external account binding must not carry a "
                         "\"nonce\"");
        goto done;
    }

    if (u == NULL || strcmp(u, url) != 0) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "external account binding \"url\" must be the "
                         "newAccount URL");
        goto done;
    }

    raw = acme_b64u_decode_alloc(pay, pay_len, &n);
    out->jwk = raw ? json_loadb((char *) raw, n, JSON_REJECT_DUPLICATES,
                                NULL)
                   : NULL;
    free(raw);

    if (out->jwk == NULL
        || acme_jwk_import(out->jwk, &pkey, canonical, p) != ACME_OK)
    {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "external account binding payload is not a JWK");
        goto done;
    }

    EVP_PKEY_free(pkey);

    if (strcmp(canonical, account_canonical) != 0) {
        acme_problem_set(p, ACME_PROB_UNAUTHORIZED,
                         "external account binding is for another key");
        goto done;
    }

    out->mac = acme_b64u_decode_alloc(sig, sig_len, &out->mac_len);
    if (out->mac == NULL) {
        acme_problem_set(p, ACME_PROB_MALFORMED,
                         "external account binding signature is not "
                         "base64url");
        goto done;
    }

    out->signing_input = acme_jws_signing_input(prot, prot_len, pay, pay_len,
                                                &out->signing_input_len);
    if (out->signing_input == NULL) {
        acme_problem_set(p, ACME_PROB_SERVER_INTERNAL, "out of memory");
        goto done;
    }

    rc = ACME_OK;

done:

    json_decref(hdr);

    return rc;
}


int
acme_eab_verify(const acme_eab_t *e, const unsigned char *key,
    size_t key_len, acme_problem_t *p)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (HMAC(EVP_get_digestbyname(e->md), key, (int) key_len,
             (const unsigned char *) e->signing_input, e->signing_input_len,
             md, &n) == NULL
        || n != e->mac_len
        || CRYPTO_memcmp(md, e->mac, n) != 0)
    {
        OPENSSL_cleanse(md, sizeof(md));
        return acme_problem_set(p, ACME_PROB_UNAUTHORIZED,
                                "external account binding MAC does not "
                                "verify");
    }

    OPENSSL_cleanse(md, sizeof(md));

    return ACME_OK;
}


void
acme_eab_clear(acme_eab_t *e)
{
    free(e->signing_input);
    free(e->mac);
    json_decref(e->jwk);
    memset(e, 0, sizeof(*e));
}
