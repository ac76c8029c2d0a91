/*
 * request.c: routing, query strings, JSON bodies with hard limits, and RFC 9457 problems.
 *
 * Every way a request can be malformed ends here as ERR_INVALID or ERR_LIMIT with the
 * offending field named, before any handler or core function runs.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <h2o.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- problems ---- */

struct problem_kind {
    int status;
    const char *slug;
    const char *title;
};

static const struct problem_kind problem_kinds[ERR__COUNT] = {
    [ERR_OK] = {200, "ok", "OK"},
    [ERR_NOMEM] = {503, "overloaded", "The server is out of memory"},
    [ERR_IO] = {500, "storage-error", "The server could not read or write its storage"},
    [ERR_CORRUPT] = {500, "corrupt", "Stored data failed an integrity check"},
    [ERR_INVALID] = {400, "invalid", "The request is invalid"},
    [ERR_NOT_FOUND] = {404, "not-found", "No such object"},
    [ERR_CONFLICT] = {409, "conflict", "The request conflicts with existing data"},
    [ERR_LIMIT] = {413, "too-large", "The request exceeds a limit"},
    [ERR_UNAUTHORIZED] = {401, "unauthorized", "Authentication is required"},
    [ERR_FORBIDDEN] = {403, "forbidden", "The caller may not do this"},
    [ERR_BAD_STATE] = {409, "wrong-state", "The object's state does not allow this"},
    [ERR_UNAVAILABLE] = {503, "unavailable", "A dependency is unavailable; retry later"},
};

int http_status_for(enum err code)
{
    if ((unsigned)code >= ERR__COUNT) {
        return 500;
    }
    return problem_kinds[code].status;
}

const char *http_problem_slug(enum err code)
{
    if ((unsigned)code >= ERR__COUNT) {
        return "internal";
    }
    return problem_kinds[code].slug;
}

#define PROBLEM_BASE "https://bourse.dev/problems/"

void http__problem(struct http_response *res, enum err code, const struct errbuf *err)
{
    ASSERT(code != ERR_OK);
    json_decref(res->body);
    res->body = NULL;
    mem_free(res->text);
    res->text = NULL;
    const struct problem_kind *k = &problem_kinds[(unsigned)code < ERR__COUNT ? code : ERR_IO];
    char type[96];
    snprintf(type, sizeof(type), PROBLEM_BASE "%s",
             res->problem_type != NULL && k->status < 500 ? res->problem_type : k->slug);
    res->status = k->status;
    res->content_type = "application/problem+json";
    const char *detail = err != NULL && err->msg[0] != '\0' ? err->msg : k->title;
    /* Server-side faults are logged in full and shown to the client without internals. */
    if (k->status >= 500) {
        log_msg(LOG_ERROR, "request failed: %s: %s", err_name(code), detail);
        detail = k->title;
    }
    res->body = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", k->title, "status",
                          k->status, "detail", detail);
    if (res->body != NULL && err != NULL && err->field[0] != '\0' && k->status < 500) {
        json_object_set_new(res->body, "field", json_string(err->field));
    }
}

/* ---- routing ---- */

static int segment_next(const char **p, const char **start, size_t *len)
{
    if (**p != '/') {
        return 0;
    }
    (*p)++;
    *start = *p;
    while (**p != '\0' && **p != '/') {
        (*p)++;
    }
    *len = (size_t)(*p - *start);
    return 1;
}

static int route_match(const char *pattern, const char *path, struct http_request *req)
{
    const char *pp = pattern;
    const char *tp = path;
    size_t n = 0;
    for (;;) {
        if (*pp == '\0' || *tp == '\0') {
            break;
        }
        const char *ps, *ts;
        size_t pl, tl;
        if (!segment_next(&pp, &ps, &pl) || !segment_next(&tp, &ts, &tl)) {
            return 0;
        }
        if (pl >= 3 && ps[0] == '{' && ps[pl - 2] == '*' && ps[pl - 1] == '}') {
            /* "{name*}" takes the rest of the path, slashes included. */
            size_t rest = strlen(ts);
            if (rest == 0 || rest >= sizeof(req->params[0].value) || n == HTTP_PARAMS_MAX ||
                pl - 3 >= sizeof(req->params[0].name)) {
                return 0;
            }
            memcpy(req->params[n].name, ps + 1, pl - 3);
            req->params[n].name[pl - 3] = '\0';
            memcpy(req->params[n].value, ts, rest + 1);
            n++;
            tp = ts + rest;
        } else if (pl >= 2 && ps[0] == '{' && ps[pl - 1] == '}') {
            if (tl == 0 || tl >= sizeof(req->params[0].value) || n == HTTP_PARAMS_MAX ||
                pl - 2 >= sizeof(req->params[0].name)) {
                return 0;
            }
            memcpy(req->params[n].name, ps + 1, pl - 2);
            req->params[n].name[pl - 2] = '\0';
            memcpy(req->params[n].value, ts, tl);
            req->params[n].value[tl] = '\0';
            n++;
        } else if (pl != tl || memcmp(ps, ts, pl) != 0) {
            return 0;
        }
    }
    if (*pp != '\0' || *tp != '\0') {
        return 0;
    }
    req->nparams = n;
    return 1;
}

int http__route_find(const char *method, const char *path, struct http_request *req,
                     int *path_matched)
{
    *path_matched = 0;
    for (size_t i = 0; i < http__routes_count; i++) {
        if (!route_match(http__routes[i].pattern, path, req)) {
            continue;
        }
        *path_matched = 1;
        if (strcmp(http__routes[i].method, method) == 0) {
            return (int)i;
        }
    }
    req->nparams = 0;
    return -1;
}

/* ---- query strings ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes [s, s+len) into out (NUL-terminated). ERR_INVALID on bad escapes, NUL
 * bytes or invalid UTF-8; ERR_LIMIT if it does not fit. */
static enum err url_decode(const char *s, size_t len, char *out, size_t cap, struct errbuf *err)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return err_set(err, ERR_INVALID, "query", "malformed percent escape in query");
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            return err_set(err, ERR_INVALID, "query", "NUL byte in query");
        }
        if (j + 1 >= cap) {
            return err_set(err, ERR_LIMIT, "query", "query parameter is too long");
        }
        out[j++] = c;
    }
    out[j] = '\0';
    if (!text_valid_utf8(out, j)) {
        return err_set(err, ERR_INVALID, "query", "query parameter is not valid UTF-8");
    }
    return ERR_OK;
}

enum err http__query_parse(const char *qs, size_t len, struct http_request *req, struct errbuf *err)
{
    req->nquery = 0;
    if (len > HTTP_QUERY_BYTES_MAX) {
        return err_set(err, ERR_LIMIT, "query", "query string is longer than %d bytes",
                       HTTP_QUERY_BYTES_MAX);
    }
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && qs[end] != '&') {
            end++;
        }
        if (end > i) {
            if (req->nquery == HTTP_QUERY_MAX) {
                return err_set(err, ERR_LIMIT, "query", "more than %d query parameters",
                               HTTP_QUERY_MAX);
            }
            size_t eq = i;
            while (eq < end && qs[eq] != '=') {
                eq++;
            }
            struct http_param *p = &req->query[req->nquery];
            enum err rc = url_decode(qs + i, eq - i, p->name, sizeof(p->name), err);
            if (rc == ERR_OK) {
                size_t vstart = eq < end ? eq + 1 : end;
                rc = url_decode(qs + vstart, end - vstart, p->value, sizeof(p->value), err);
            }
            if (rc != ERR_OK) {
                return rc;
            }
            if (http__query_get(req, p->name) != NULL) {
                return err_set(err, ERR_INVALID, p->name, "query parameter '%s' is repeated",
                               p->name);
            }
            req->nquery++;
        }
        i = end + 1;
    }
    return ERR_OK;
}

const char *http__query_get(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].name, name) == 0) {
            return req->query[i].value;
        }
    }
    return NULL;
}

enum err http__query_only(const struct http_request *req, const char *const *allowed,
                          struct errbuf *err)
{
    for (size_t i = 0; i < req->nquery; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL; a++) {
            ok |= strcmp(*a, req->query[i].name) == 0;
        }
        if (!ok) {
            return err_set(err, ERR_INVALID, req->query[i].name, "unknown query parameter '%s'",
                           req->query[i].name);
        }
    }
    return ERR_OK;
}

/* ---- JSON bodies ---- */

/* Nesting depth of a JSON text, outside strings; jansson's own bound is 2048. */
static size_t json_depth(const char *s, size_t len)
{
    size_t depth = 0, max = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
            max = depth > max ? depth : max;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return max;
}

enum err http__json_parse(const char *data, size_t len, json_t **out, struct errbuf *err)
{
    *out = NULL;
    if (len == 0) {
        return err_set(err, ERR_INVALID, "", "a JSON object body is required");
    }
    if (len > HTTP_BODY_MAX) {
        return err_set(err, ERR_LIMIT, "", "body is %zu bytes, over the %d byte limit", len,
                       HTTP_BODY_MAX);
    }
    if (json_depth(data, len) > HTTP_JSON_DEPTH_MAX) {
        return err_set(err, ERR_INVALID, "", "JSON nesting deeper than %d", HTTP_JSON_DEPTH_MAX);
    }
    json_error_t jerr;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        return err_set(err, ERR_INVALID, "", "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(err, ERR_INVALID, "", "the body must be a JSON object");
    }
    *out = v;
    return ERR_OK;
}

enum err http__json_only(json_t *obj, const char *const *allowed, struct errbuf *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        (void)value;
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL; a++) {
            ok |= strcmp(*a, key) == 0;
        }
        if (!ok) {
            return err_set(err, ERR_INVALID, key, "unknown field '%s'", key);
        }
    }
    return ERR_OK;
}

enum err http__json_str(json_t *obj, const char *name, const char **out, struct errbuf *err)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_string(v)) {
        return err_set(err, ERR_INVALID, name, "'%s' must be a string", name);
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return err_set(err, ERR_INVALID, name, "'%s' contains a NUL character", name);
    }
    *out = json_string_value(v);
    return ERR_OK;
}

/* Here rather than in server.c so that the handlers link without the event loop (the fuzz
 * targets build every http file but server.c and serve.c). */
const char *http__header(const struct http_request *req, const char *name, size_t *len)
{
    ASSERT(req->native != NULL);
    h2o_req_t *h = req->native;
    ssize_t i = h2o_find_header_by_str(&h->headers, name, strlen(name), -1);
    *len = i < 0 ? 0 : h->headers.entries[i].value.len;
    return i < 0 ? NULL : h->headers.entries[i].value.base;
}
