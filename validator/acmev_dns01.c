/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_resolve.h"
#include "acmev_keyauth.h"
#include "acmev_dns01.h"


#define ACMEV_DNS01_PREFIX     "_acme-challenge."
#define ACMEV_DNS01_TEXT_MAX   256       /* one escaped value, shown */


static int acmev_dns01_join(const acmev_rdata_t *rd, unsigned char *buf,
    size_t size, size_t *len);
static json_t *acmev_dns01_record(const char *name,
    const acmev_dns_answer_t *ans);


int
acmev_dns01_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record)
{
    int                  rc, err, cut, matched;
    char                 name[ACMEV_DNS_NAME_BUF + sizeof(ACMEV_DNS01_PREFIX)];
    char                 expected[ACMEV_KEYAUTH_TXT_LEN + 1];
    char                 text[ACMEV_DNS01_TEXT_MAX];
    char                 found[ACME_PROBLEM_DETAIL_MAX];
    size_t               i, len, o, shown;
    json_t              *rec, *txt, *records;
    const char          *base;
    unsigned char       *joined;
    acmev_dns_answer_t  *ans;

    *record = NULL;
    rec = NULL;
    records = NULL;
    joined = NULL;

    ans = calloc(1, sizeof(acmev_dns_answer_t));
    if (ans == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    /* RFC 8738 7: dns-01 is not defined for IP identifiers */
    if (strcmp(job->identifier_type, "dns") != 0) {
        acme_problem_set(prob, ACME_PROB_UNSUPPORTED_IDENTIFIER,
                         "dns-01 cannot validate %s identifier \"%.253s\"",
                         job->identifier_type, job->identifier_value);
        rc = ACMEV_EFAILED;
        goto failed;
    }

    base = job->identifier_value;

    /* RFC 8555 8.4: the wildcard label is never part of the name */
    if (base[0] == '*' && base[1] == '.') {
        base += 2;
    }

    snprintf(name, sizeof(name), ACMEV_DNS01_PREFIX "%s", base);

    rc = acmev_keyauth_txt(job, expected);
    if (rc != ACMEV_OK) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL,
                         "cannot compute the key authorization");
        rc = (rc == ACMEV_EINVAL) ? ACMEV_EFAILED : ACMEV_ENOMEM;
        goto failed;
    }

    rc = acmev_dns_lookup(conf, name, ACMEV_DNS_TXT, ans, prob);

    rec = acmev_dns01_record(name, ans);
    txt = rec ? json_object_get(rec, "txt") : NULL;
    records = json_array();

    if (rec == NULL || records == NULL
        || json_array_append(records, rec) != 0)
    {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    if (rc != ACMEV_OK) {
        goto failed;
    }

    if (ans->status != ACMEV_DNS_FOUND) {
        acme_problem_set(prob, ACME_PROB_UNAUTHORIZED, "No TXT record found "
                         "at %s%s", name,
                         ans->status == ACMEV_DNS_NXDOMAIN
                         ? " (NXDOMAIN)" : "");
        rc = ACMEV_EFAILED;
        goto failed;
    }

    /* a TXT RDATA is at most 65535 bytes: room for the longest */
    joined = malloc(65536);
    if (joined == NULL) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    found[0] = '\0';
    o = 0;
    shown = 0;
    err = 0;
    matched = 0;

    for (i = 0; i < ans->nrrs; i++) {
        if (acmev_dns01_join(&ans->rrs[i], joined, 65536, &len) != ACMEV_OK) {
            continue;
        }

        cut = acmev_dns_escape(joined, len, text, sizeof(text));

        if (i < ACMEV_DNS01_SEEN_MAX) {
            err |= json_array_append_new(txt, json_string(text));
        }

        /* RFC 8555 8.4: one matching record is enough, whatever others;
         * the rest are still listed in the validation record */
        if (len == ACMEV_KEYAUTH_TXT_LEN
            && memcmp(joined, expected, len) == 0)
        {
            acmev_log(LOG_DEBUG, "dns-01 %s: TXT record %zu of %zu matches",
                      name, i + 1, ans->nrrs);
            matched = 1;
            continue;
        }

        /* cut each value to 60, as the detail holds several */
        if (o + 80 < sizeof(found)) {
            o += snprintf(found + o, sizeof(found) - o, "%s\"%.60s%s\"",
                          shown ? ", " : "", text,
                          (cut || strlen(text) > 60) ? "..." : "");
            shown++;
        }
    }

    if (err) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    if (matched) {
        rc = ACMEV_OK;
        goto failed;
    }

    acme_problem_set(prob, ACME_PROB_INCORRECT_RESPONSE, "Incorrect TXT "
                     "record at %s: expected \"%s\", found %zu record%s: "
                     "%s%s", name, expected, ans->nrrs,
                     ans->nrrs == 1 ? "" : "s", found,
                     shown < ans->nrrs ? ", ..." : "");
    rc = ACMEV_EFAILED;

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    if (records != NULL) {
        *record = json_dumps(records, JSON_COMPACT);
    }

    json_decref(records);
    json_decref(rec);
    free(joined);

    if (ans != NULL) {
        acmev_dns_answer_clear(ans);
        free(ans);
    }

    return rc;
}


/*
 * The character-strings of one TXT RDATA, concatenated (RFC 8555 8.4 and
 * RFC 7208 3.3: a value longer than 255 octets is split over several).
 */
static int
acmev_dns01_join(const acmev_rdata_t *rd, unsigned char *buf, size_t size,
    size_t *len)
{
    size_t  pos, n;

    *len = 0;

    for (pos = 0; pos < rd->len; pos += 1 + n) {
        n = rd->data[pos];

        if (pos + 1 + n > rd->len || *len + n > size) {
            return ACMEV_EINVAL;
        }

        memcpy(buf + *len, rd->data + pos + 1, n);
        *len += n;
    }

    return ACMEV_OK;
}


/* {hostname, resolver, cnames, answerName, txt: []} */
static json_t *
acmev_dns01_record(const char *name, const acmev_dns_answer_t *ans)
{
    json_t  *rec;

    rec = acmev_dns_answer_json("hostname", name, ans);

    if (rec != NULL && json_object_set_new(rec, "txt", json_array()) != 0) {
        json_decref(rec);
        return NULL;
    }

    return rec;
}
