/*
 * Copyright (C) nginx-acme-server authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "acmev_errcode.h"
#include "acmev_log.h"
#include "acmev_resolve.h"
#include "acmev_caa.h"


#define ACMEV_CAA_CRITICAL   0x80      /* RFC 8659 4.1: Issuer Critical */
#define ACMEV_CAA_TEXT_MAX   160       /* one record in presentation form */
#define ACMEV_CAA_WHY_MAX    96
#define ACMEV_CAA_URI_MAX    1024


/* one CAA record (RFC 8659 4.1: flags, tag length, tag, value) */
typedef struct {
    unsigned              flags;
    const unsigned char  *tag;
    size_t                taglen;
    const unsigned char  *value;
    size_t                vlen;
    char                  text[ACMEV_CAA_TEXT_MAX];
} acmev_caa_rr_t;


static int acmev_caa_relevant(const acmev_conf_t *conf,
    const acme_pg_job_t *job, const char *name,
    const acmev_dns_answer_t *ans, json_t *out, acme_problem_t *prob);
static int acmev_caa_parse(const acmev_rdata_t *rd, acmev_caa_rr_t *rr);
static int acmev_caa_tag_is(const acmev_caa_rr_t *rr, const char *tag);
static int acmev_caa_known(const acmev_caa_rr_t *rr);
static int acmev_caa_match(const acmev_conf_t *conf,
    const acme_pg_job_t *job, const unsigned char *v, size_t len, char *why,
    size_t whylen);
static size_t acmev_caa_label(const unsigned char *v, size_t len, size_t p);
static size_t acmev_caa_wsp(const unsigned char *v, size_t len, size_t p);
static int acmev_caa_methods(const unsigned char *v, size_t len,
    const char *type);
static json_t *acmev_caa_lookup_record(const char *name,
    const acmev_dns_answer_t *ans, const char *result);


/* RFC 8659 4 and the IANA "Certification Authority Restriction
 * Properties" registry: tags this CA knows (and may ignore) */
static const char  *acmev_caa_tags[] = {
    "issue", "issuewild", "iodef", "contactemail", "contactphone",
    "issuemail", "issuevmc", NULL
};


int
acmev_caa_check(const acmev_conf_t *conf, const acme_pg_job_t *job,
    acme_problem_t *prob, char **record)
{
    int                  rc, err;
    char                *s;
    json_t              *top, *caa, *lookups, *lk;
    const char          *name, *cur, *result;
    acmev_dns_answer_t  *ans;

    *record = NULL;
    ans = NULL;
    result = "permitted";
    rc = ACMEV_ENOMEM;

    top = json_object();
    caa = json_object();
    lookups = json_array();

    if (top == NULL || caa == NULL || lookups == NULL
        || json_object_set(top, "caa", caa) != 0
        || json_object_set(caa, "lookups", lookups) != 0)
    {
        goto failed;
    }

    name = job->identifier_value;

    if (name[0] == '*' && name[1] == '.') {
        name += 2;
    }

    err = json_object_set_new(caa, "domain", json_string(name));
    err |= json_object_set_new(caa, "wildcard",
                               json_boolean(job->wildcard));
    err |= json_object_set_new(caa, "method", json_string(job->type));
    if (err) {
        goto failed;
    }

    /* RFC 8738 7: CAA is defined for domain names only */
    if (strcmp(job->identifier_type, "dns") != 0) {
        result = "not applicable (IP identifier)";
        rc = ACMEV_OK;
        goto failed;
    }

    ans = calloc(1, sizeof(acmev_dns_answer_t));
    if (ans == NULL) {
        goto failed;
    }

    /* RFC 8659 3: climb towards the root, which is not asked */
    for (cur = name; *cur != '\0'; /* void */) {
        rc = acmev_dns_lookup(conf, cur, ACMEV_DNS_CAA, ans, prob);

        lk = acmev_caa_lookup_record(cur, ans,
                                     rc != ACMEV_OK ? "failed"
                                     : ans->status == ACMEV_DNS_FOUND
                                     ? "found"
                                     : ans->status == ACMEV_DNS_NXDOMAIN
                                     ? "NXDOMAIN" : "NODATA");

        if (lk == NULL || json_array_append_new(lookups, lk) != 0) {
            rc = ACMEV_ENOMEM;
            goto failed;
        }

        if (rc != ACMEV_OK) {
            /* RFC 8659 5.4: no permission from a failed lookup */
            result = "lookup failed";
            goto failed;
        }

        if (ans->status == ACMEV_DNS_FOUND) {
            break;
        }

        acmev_dns_answer_clear(ans);

        s = strchr(cur, '.');
        cur = (s != NULL) ? s + 1 : "";
    }

    if (*cur == '\0') {
        result = "permitted (no CAA records)";
        rc = ACMEV_OK;
        goto failed;
    }

    if (json_object_set_new(caa, "relevantName", json_string(cur)) != 0) {
        rc = ACMEV_ENOMEM;
        goto failed;
    }

    rc = acmev_caa_relevant(conf, job, cur, ans, caa, prob);

    result = (rc == ACMEV_OK) ? "permitted"
             : (rc == ACMEV_EFAILED) ? "refused" : "error";

failed:

    if (rc == ACMEV_ENOMEM) {
        acme_problem_set(prob, ACME_PROB_SERVER_INTERNAL, "out of memory");
    }

    if (caa != NULL
        && json_object_set_new(caa, "result", json_string(result)) == 0
        && top != NULL)
    {
        *record = json_dumps(top, JSON_COMPACT);
    }

    if (ans != NULL) {
        acmev_dns_answer_clear(ans);
        free(ans);
    }

    json_decref(lookups);
    json_decref(caa);
    json_decref(top);

    return rc;
}


/* RFC 8659 4: the relevant RRset, found at name, decides */
static int
acmev_caa_relevant(const acmev_conf_t *conf, const acme_pg_job_t *job,
    const char *name, const acmev_dns_answer_t *ans, json_t *out,
    acme_problem_t *prob)
{
    int              err;
    char             why[ACMEV_CAA_WHY_MAX];
    char             refused[ACME_PROBLEM_DETAIL_MAX];
    size_t           i, n, o, nwild, nrelevant;
    json_t          *list;
    const char      *want;
    acmev_caa_rr_t  *rrs;

    rrs = calloc(ans->nrrs ? ans->nrrs : 1, sizeof(acmev_caa_rr_t));
    list = json_array();

    if (rrs == NULL || list == NULL
        || json_object_set(out, "records", list) != 0)
    {
        err = 1;
        goto nomem;
    }

    n = 0;
    nwild = 0;
    err = 0;

    for (i = 0; i < ans->nrrs; i++) {
        if (acmev_caa_parse(&ans->rrs[i], &rrs[n]) != ACMEV_OK) {
            /* RFC 8659 4.1: only the flags byte is known to be sound */
            if (ans->rrs[i].len > 0
                && (ans->rrs[i].data[0] & ACMEV_CAA_CRITICAL))
            {
                acme_problem_set(prob, ACME_PROB_CAA, "CAA record for %s "
                                 "is malformed and critical: issuance "
                                 "refused", name);
                goto refuse;
            }

            continue;
        }

        if (n < ACMEV_CAA_SHOWN_MAX) {
            err |= json_array_append_new(list, json_string(rrs[n].text));
        }

        if (acmev_caa_tag_is(&rrs[n], "issuewild")) {
            nwild++;
        }

        n++;
    }

    if (err) {
        goto nomem;
    }

    /* RFC 8659 4.1: an unknown property marked critical forbids */
    for (i = 0; i < n; i++) {
        if ((rrs[i].flags & ACMEV_CAA_CRITICAL) && !acmev_caa_known(&rrs[i]))
        {
            acme_problem_set(prob, ACME_PROB_CAA, "CAA record for %s has an "
                             "unknown critical property: %s", name,
                             rrs[i].text);
            goto refuse;
        }
    }

    /* RFC 8659 4.3: issuewild, when present, replaces issue for a
     * wildcard and is ignored otherwise */
    want = (job->wildcard && nwild > 0) ? "issuewild" : "issue";

    if (json_object_set_new(out, "property", json_string(want)) != 0) {
        goto nomem;
    }

    nrelevant = 0;
    o = 0;
    refused[0] = '\0';

    for (i = 0; i < n; i++) {
        if (!acmev_caa_tag_is(&rrs[i], want)) {
            continue;
        }

        nrelevant++;

        if (acmev_caa_match(conf, job, rrs[i].value, rrs[i].vlen, why,
                            sizeof(why)))
        {
            acmev_log(LOG_DEBUG, "caa %s: permitted by %s", name,
                      rrs[i].text);
            free(rrs);
            json_decref(list);
            return ACMEV_OK;
        }

        if (o + 40 < sizeof(refused)) {
            o += snprintf(refused + o, sizeof(refused) - o, "%s%s (%s)",
                          o ? "; " : "", rrs[i].text, why);
        }
    }

    /* RFC 8659 4.2: no issue property at all does not restrict */
    if (nrelevant == 0) {
        free(rrs);
        json_decref(list);
        return ACMEV_OK;
    }

    acme_problem_set(prob, ACME_PROB_CAA, "CAA record for %s prevents "
                     "issuance%s: %s", name,
                     job->wildcard ? " of a wildcard" : "", refused);

refuse:

    free(rrs);
    json_decref(list);

    return ACMEV_EFAILED;

nomem:

    free(rrs);
    json_decref(list);

    return ACMEV_ENOMEM;
}


static int
acmev_caa_parse(const acmev_rdata_t *rd, acmev_caa_rr_t *rr)
{
    char    tag[32], value[120];
    size_t  i;

    if (rd->len < 2 || rd->data[1] == 0 || 2 + (size_t) rd->data[1] > rd->len)
    {
        return ACMEV_EINVAL;
    }

    rr->flags = rd->data[0];
    rr->taglen = rd->data[1];
    rr->tag = rd->data + 2;
    rr->value = rd->data + 2 + rr->taglen;
    rr->vlen = rd->len - 2 - rr->taglen;

    /* RFC 8659 4.1: a tag is letters and digits only */
    for (i = 0; i < rr->taglen; i++) {
        if (!((rr->tag[i] >= 'a' && rr->tag[i] <= 'z')
              || (rr->tag[i] >= 'A' && rr->tag[i] <= 'Z')
              || (rr->tag[i] >= '0' && rr->tag[i] <= '9')))
        {
            return ACMEV_EINVAL;
        }
    }

    acmev_dns_escape(rr->tag, rr->taglen, tag, sizeof(tag));
    acmev_dns_escape(rr->value, rr->vlen, value, sizeof(value));

    snprintf(rr->text, sizeof(rr->text), "%u %s \"%s\"", rr->flags, tag,
             value);

    return ACMEV_OK;
}


/* RFC 8659 4.1: "Matching of tags is case insensitive" */
static int
acmev_caa_tag_is(const acmev_caa_rr_t *rr, const char *tag)
{
    return rr->taglen == strlen(tag)
           && strncasecmp((const char *) rr->tag, tag, rr->taglen) == 0;
}


static int
acmev_caa_known(const acmev_caa_rr_t *rr)
{
    size_t  i;

    for (i = 0; acmev_caa_tags[i] != NULL; i++) {
        if (acmev_caa_tag_is(rr, acmev_caa_tags[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * The account URL (RFC 8657 3) of the job's account: account_uri_prefix
 * followed by the account id; a "{ca}" in the prefix stands for the CA's
 * location (job->ca, e.g. "/acme/"), so one prefix serves every CA of
 * one host: "https://ca.example.com{ca}acct/".
 */
static void
acmev_caa_account_uri(const char *prefix, const acme_pg_job_t *job,
    char *uri, size_t size)
{
    const char  *ca;

    ca = strstr(prefix, "{ca}");

    if (ca == NULL) {
        snprintf(uri, size, "%s%s", prefix, job->account_id);
        return;
    }

    /* the location ends with "/": "{ca}acct/" -> "/acme/acct/" */
    snprintf(uri, size, "%.*s%s%s%s", (int) (ca - prefix), prefix, job->ca,
             ca + 4, job->account_id);
}


/*
 * Does an issue or issuewild value name this CA, with parameters this
 * request meets?  RFC 8659 4.2:
 *
 *   issue-value = *WSP [issuer-domain-name *WSP]
 *                 [";" *WSP [parameters *WSP]]
 *   parameters  = (parameter *WSP ";" *WSP parameters) / parameter
 *   parameter   = tag *WSP "=" *WSP value
 *   value       = *(%x21-3A / %x3C-7E)
 *
 * A value that does not parse authorizes no one.  1 or 0, with why.
 */
static int
acmev_caa_match(const acmev_conf_t *conf, const acme_pg_job_t *job,
    const unsigned char *v, size_t len, char *why, size_t whylen)
{
    int                   nuri, nmethods, ok;
    char                  uri[ACMEV_CAA_URI_MAX];
    size_t                p, q, i, dlen, tlen, plen, vstart, vend;
    const unsigned char  *domain, *tag;

    nuri = 0;
    nmethods = 0;
    ok = 1;

    p = acmev_caa_wsp(v, len, 0);
    domain = v + p;

    /* issuer-domain-name = label *("." label), or nothing */
    q = acmev_caa_label(v, len, p);

    if (q == 0) {
        q = p;

    } else {
        while (q < len && v[q] == '.') {
            q = acmev_caa_label(v, len, q + 1);
            if (q == 0) {
                snprintf(why, whylen, "malformed issuer domain name");
                return 0;
            }
        }
    }

    dlen = q - p;
    p = acmev_caa_wsp(v, len, q);

    if (p < len) {
        if (v[p] != ';') {
            snprintf(why, whylen, "malformed value");
            return 0;
        }

        p = acmev_caa_wsp(v, len, p + 1);

        while (p < len) {
            tag = v + p;
            q = acmev_caa_label(v, len, p);
            if (q == 0) {
                snprintf(why, whylen, "malformed parameter");
                return 0;
            }

            tlen = q - p;
            p = acmev_caa_wsp(v, len, q);

            if (p >= len || v[p] != '=') {
                snprintf(why, whylen, "malformed parameter");
                return 0;
            }

            vstart = acmev_caa_wsp(v, len, p + 1);

            for (vend = vstart; vend < len; vend++) {
                if (v[vend] < 0x21 || v[vend] > 0x7e || v[vend] == ';') {
                    break;
                }
            }

            plen = vend - vstart;

            if (tlen == 10 && strncasecmp((const char *) tag, "accounturi",
                                          10) == 0)
            {
                nuri++;

                /* RFC 8657 3: the URI of the account asking */
                if (conf->account_uri_prefix == NULL) {
                    ok = 0;
                    snprintf(why, whylen, "accounturi cannot match: "
                             "account_uri_prefix is not set");

                } else {
                    acmev_caa_account_uri(conf->account_uri_prefix, job,
                                          uri, sizeof(uri));

                    if (plen != strlen(uri)
                        || memcmp(v + vstart, uri, plen) != 0)
                    {
                        ok = 0;
                        snprintf(why, whylen, "accounturi is not this "
                                 "account");
                    }
                }

            } else if (tlen == 17
                       && strncasecmp((const char *) tag,
                                      "validationmethods", 17) == 0)
            {
                nmethods++;

                /* RFC 8657 4: the method being used must be listed */
                if (!acmev_caa_methods(v + vstart, plen, job->type)) {
                    ok = 0;
                    snprintf(why, whylen, "validationmethods does not "
                             "allow %s", job->type);
                }
            }

            /* other parameters are not ours to judge (RFC 8659 4.2) */

            p = acmev_caa_wsp(v, len, vend);

            if (p == len) {
                break;
            }

            if (v[p] != ';') {
                snprintf(why, whylen, "malformed parameter value");
                return 0;
            }

            p = acmev_caa_wsp(v, len, p + 1);

            if (p == len) {
                snprintf(why, whylen, "empty parameter after \";\"");
                return 0;
            }
        }
    }

    /* RFC 8659 4.2: no issuer-domain-name forbids every CA */
    if (dlen == 0) {
        snprintf(why, whylen, "no CA may issue");
        return 0;
    }

    /* a repeated parameter is ambiguous: the record permits nothing */
    if (nuri > 1 || nmethods > 1) {
        snprintf(why, whylen, "repeated %s parameter",
                 nuri > 1 ? "accounturi" : "validationmethods");
        return 0;
    }

    for (i = 0; i < conf->ncaa_ids; i++) {
        if (strlen(conf->caa_ids[i]) == dlen
            && strncasecmp((const char *) domain, conf->caa_ids[i], dlen)
               == 0)
        {
            break;
        }
    }

    if (i == conf->ncaa_ids) {
        snprintf(why, whylen, "another CA");
        return 0;
    }

    return ok;
}


/*
 * label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)): the index after the
 * label starting at p, or 0 when there is none.
 */
static size_t
acmev_caa_label(const unsigned char *v, size_t len, size_t p)
{
    size_t  end;

#define acmev_alnum(c)                                                        \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')               \
     || ((c) >= '0' && (c) <= '9'))

    if (p >= len || !acmev_alnum(v[p])) {
        return 0;
    }

    end = ++p;

    while (p < len && (acmev_alnum(v[p]) || v[p] == '-')) {
        if (acmev_alnum(v[p])) {
            end = p + 1;
        }

        p++;
    }

#undef acmev_alnum

    return end;
}


static size_t
acmev_caa_wsp(const unsigned char *v, size_t len, size_t p)
{
    while (p < len && (v[p] == ' ' || v[p] == '\t')) {
        p++;
    }

    return p;
}


/* RFC 8657 4: value = label *("," label); is type one of them? */
static int
acmev_caa_methods(const unsigned char *v, size_t len, const char *type)
{
    int     found;
    size_t  p, q, tlen;

    found = 0;
    tlen = strlen(type);

    for (p = 0; /* void */; p = q + 1) {
        q = acmev_caa_label(v, len, p);
        if (q == 0) {
            return 0;               /* malformed list: permits nothing */
        }

        if (q - p == tlen && memcmp(v + p, type, tlen) == 0) {
            found = 1;
        }

        if (q == len) {
            return found;
        }

        if (v[q] != ',') {
            return 0;
        }
    }
}


/* {name, resolver, cnames, answerName, result} */
static json_t *
acmev_caa_lookup_record(const char *name, const acmev_dns_answer_t *ans,
    const char *result)
{
    json_t  *rec;

    rec = acmev_dns_answer_json("name", name, ans);

    if (rec != NULL
        && json_object_set_new(rec, "result", json_string(result)) != 0)
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}
