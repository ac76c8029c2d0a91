/*
 * request.c: the one way the client talks to the server. cli__request builds the URL, the JSON
 * body and the headers every request carries (Authorization when a key is known, Content-Type
 * for bodies, Idempotency-Key on POST and DELETE, a 30 s timeout), hands them to the transport
 * (libcurl, or a fake in unit tests) and parses the answer. cli__response_check turns the outcome
 * into an exit code and prints RFC 9457 problems the same way for every command.
 *
 * The response body is bounded (CLI_RESPONSE_BYTES_MAX): past it the transfer is aborted with
 * ERR_LIMIT rather than growing without end.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <curl/curl.h>
#include <string.h>

#include "util/banned.h"

/* ---- libcurl transport ---- */

struct curl_sink {
    struct buf *body;
    enum err rc; /* why the write callback stopped the transfer */
};

static size_t curl_write_cb(char *data, size_t size, size_t count, void *userdata)
{
    struct curl_sink *sink = userdata;
    ASSERT(size == 1); /* libcurl documents it */
    enum err rc = buf_append(sink->body, data, count);
    if (rc != ERR_OK) {
        sink->rc = rc;
        return 0;
    }
    return count;
}

/* Builds the request headers; NULL on allocation failure. Free with curl_slist_free_all. */
static struct curl_slist *curl_headers(const struct cli_http_request *req)
{
    char line[CLI_API_KEY_BYTES_MAX + 64];
    struct curl_slist *list = NULL;
    const char *fixed[] = {"Accept: application/json, application/problem+json",
                           req->body != NULL ? "Content-Type: application/json" : NULL, "Expect:"};
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
        if (fixed[i] == NULL) {
            continue;
        }
        struct curl_slist *next = curl_slist_append(list, fixed[i]);
        if (next == NULL) {
            goto fail;
        }
        list = next;
    }
    const char *names[] = {"Authorization: Bearer ", "Idempotency-Key: "};
    const char *values[] = {req->key, req->idempotency_key};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (values[i] == NULL) {
            continue;
        }
        snprintf(line, sizeof(line), "%s%s", names[i], values[i]);
        struct curl_slist *next = curl_slist_append(list, line);
        sodium_memzero(line, sizeof(line));
        if (next == NULL) {
            goto fail;
        }
        list = next;
    }
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* Sets the options of one transfer; returns the first failing CURLcode. */
static CURLcode curl_setup(CURL *curl, const struct cli_http_request *req,
                           struct curl_slist *headers, struct curl_sink *sink, char *errtext)
{
    CURLcode cc = CURLE_OK;
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_URL, req->url);
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, CLI_TIMEOUT_MS);
    cc = cc != CURLE_OK ? cc
                        : curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS);
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_USERAGENT, "bourse-cli");
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errtext);
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_write_cb);
    cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    cc = cc != CURLE_OK ? cc
                        : curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                                           (curl_off_t)CLI_RESPONSE_BYTES_MAX);
    if (strcmp(req->method, "GET") != 0) {
        cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (req->body != NULL) {
        cc = cc != CURLE_OK
                 ? cc
                 : curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
    } else if (strcmp(req->method, "POST") == 0) {
        cc = cc != CURLE_OK ? cc
                            : curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        cc = cc != CURLE_OK ? cc : curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    }
    return cc;
}

enum err cli__transport_curl(void *ctx, const struct cli_http_request *req, long *status,
                             struct buf *body, struct errbuf *err)
{
    (void)ctx;
    ASSERT(req != NULL);
    ASSERT(body != NULL);
    char errtext[CURL_ERROR_SIZE];
    errtext[0] = '\0';
    struct curl_sink sink = {body, ERR_OK};
    enum err rc = ERR_OK;
    struct curl_slist *headers = curl_headers(req);
    CURL *curl = curl_easy_init();
    if (curl == NULL || headers == NULL) {
        rc = err_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    CURLcode cc = curl_setup(curl, req, headers, &sink, errtext);
    if (cc == CURLE_OK) {
        cc = curl_easy_perform(curl);
    }
    if (cc == CURLE_WRITE_ERROR && sink.rc != ERR_OK) {
        rc = err_set(err, sink.rc, NULL, "%s",
                     sink.rc == ERR_LIMIT ? "the response is too large" : "out of memory");
    } else if (cc == CURLE_FILESIZE_EXCEEDED) {
        rc = err_set(err, ERR_LIMIT, NULL, "the response is too large");
    } else if (cc == CURLE_OUT_OF_MEMORY) {
        rc = err_set(err, ERR_NOMEM, NULL, "out of memory");
    } else if (cc != CURLE_OK) {
        rc = err_set(err, ERR_UNAVAILABLE, NULL, "%s",
                     errtext[0] != '\0' ? errtext : curl_easy_strerror(cc));
    } else {
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        *status = code;
    }
out:
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return rc;
}

/* ---- requests ---- */

void cli__response_init(struct cli_response *r)
{
    ASSERT(r != NULL);
    r->status = 0;
    buf_init(&r->raw, CLI_RESPONSE_BYTES_MAX);
    r->json = NULL;
}

void cli__response_release(struct cli_response *r)
{
    if (r == NULL) {
        return;
    }
    buf_release(&r->raw);
    json_decref(r->json);
    cli__response_init(r);
}

static int json_to_buf_cb(const char *data, size_t size, void *ctx)
{
    return buf_append(ctx, data, size) == ERR_OK ? 0 : -1;
}

enum err cli__url_escape_append(struct buf *b, const char *s)
{
    ASSERT(b != NULL);
    ASSERT(s != NULL);
    char *escaped = curl_easy_escape(NULL, s, (int)strlen(s));
    if (escaped == NULL) {
        return ERR_NOMEM;
    }
    enum err rc = buf_append_str(b, escaped);
    curl_free(escaped);
    return rc;
}

enum err cli__json_put(json_t *obj, const char *key, const char *value)
{
    ASSERT(json_is_object(obj));
    if (value == NULL) {
        return ERR_OK;
    }
    /* json_string fails on invalid UTF-8 too, but every value was checked to be UTF-8. */
    return json_object_set_new(obj, key, json_string(value)) == 0 ? ERR_OK : ERR_NOMEM;
}

enum err cli__path(struct buf *b, const char *const *parts, size_t count)
{
    ASSERT(b != NULL);
    ASSERT(parts != NULL);
    for (size_t i = 0; i < count; i++) {
        enum err rc =
            i % 2 == 0 ? buf_append_str(b, parts[i]) : cli__url_escape_append(b, parts[i]);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

/* The parts of a request that cli__request builds before calling the transport. */
struct request_parts {
    struct buf url;
    struct buf body;
    char idempotency_key[CLI_IDEMPOTENCY_KEY_BYTES * 2 + 1];
};

static enum err request_build(struct cli *c, const char *method, const char *path,
                              const json_t *body, struct request_parts *p, struct errbuf *err)
{
    if (buf_append_str(&p->url, c->url) != ERR_OK || buf_append_str(&p->url, path) != ERR_OK) {
        return err_set(err, ERR_LIMIT, NULL, "the request URL is too long");
    }
    if (body != NULL && json_dump_callback(body, json_to_buf_cb, &p->body, JSON_COMPACT) != 0) {
        return err_set(err, ERR_LIMIT, NULL, "the request body is too large");
    }
    p->idempotency_key[0] = '\0';
    if (strcmp(method, "POST") == 0 || strcmp(method, "DELETE") == 0) {
        unsigned char raw[CLI_IDEMPOTENCY_KEY_BYTES];
        rng_fill(c->rng, raw, sizeof(raw));
        sodium_bin2hex(p->idempotency_key, sizeof(p->idempotency_key), raw, sizeof(raw));
    }
    return ERR_OK;
}

enum err cli__request(struct cli *c, const char *method, const char *path, const json_t *body,
                      struct cli_response *resp, struct errbuf *err)
{
    ASSERT(c != NULL && c->url != NULL);
    ASSERT(path != NULL && path[0] == '/');
    ASSERT(resp != NULL && resp->json == NULL && resp->raw.len == 0);
    struct request_parts p;
    buf_init(&p.url, CLI_URL_BYTES_MAX + CLI_PATH_BYTES_MAX);
    buf_init(&p.body, CLI_REQUEST_BYTES_MAX);
    enum err rc = request_build(c, method, path, body, &p, err);
    if (rc != ERR_OK) {
        goto out;
    }
    struct cli_http_request req = {
        .method = method,
        .url = p.url.data,
        .body = body != NULL ? p.body.data : NULL,
        .body_len = p.body.len,
        .key = c->key,
        .idempotency_key = p.idempotency_key[0] != '\0' ? p.idempotency_key : NULL,
    };
    struct errbuf why;
    errbuf_init(&why);
    rc = c->transport(c->transport_ctx, &req, &resp->status, &resp->raw, &why);
    if (rc == ERR_UNAVAILABLE) {
        rc = err_set(err, rc, NULL, "cannot reach '%s': %s", c->url, why.msg);
        goto out;
    }
    if (rc != ERR_OK) {
        rc = err_set(err, rc, NULL, "%s (server '%s')", why.msg, c->url);
        goto out;
    }
    if (resp->raw.len > 0) {
        json_error_t jerr;
        resp->json = json_loadb(resp->raw.data, resp->raw.len, JSON_REJECT_DUPLICATES, &jerr);
    }
out:
    buf_release(&p.url);
    buf_release(&p.body);
    return rc;
}

/* ---- reporting ---- */

void cli__json_print(struct cli *c, const json_t *json)
{
    ASSERT(json != NULL);
    json_dumpf(json, c->out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    fputc('\n', c->out);
}

void cli__print_body(struct cli *c, const struct cli_response *resp)
{
    if (resp->json != NULL) {
        cli__json_print(c, resp->json);
    } else if (resp->raw.len > 0) {
        fwrite(resp->raw.data, 1, resp->raw.len, c->out);
        if (resp->raw.data[resp->raw.len - 1] != '\n') {
            fputc('\n', c->out);
        }
    }
}

/* Prints "error: <detail> (field '<field>')" from an RFC 9457 problem body. */
static void problem_print(struct cli *c, const struct cli_response *resp)
{
    const char *detail = cli__json_str(resp->json, "detail");
    const char *field = cli__json_str(resp->json, "field");
    if (detail == NULL || detail[0] == '\0') {
        detail = cli__json_str(resp->json, "title");
    }
    fputs("error: ", c->errout);
    if (detail != NULL && detail[0] != '\0') {
        cli__print_text(c->errout, detail);
    } else {
        fprintf(c->errout, "the server answered HTTP %ld", resp->status);
    }
    if (field != NULL && field[0] != '\0') {
        fputs(" (field '", c->errout);
        cli__print_text(c->errout, field);
        fputs("')", c->errout);
    }
    fputc('\n', c->errout);
    if (c->json) {
        cli__print_body(c, resp);
    }
}

int cli__response_check(struct cli *c, enum err rc, const struct errbuf *err,
                        const struct cli_response *resp)
{
    ASSERT(c != NULL);
    ASSERT(resp != NULL);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err->msg);
        return cli__exit_from_err(rc);
    }
    int code = cli__exit_from_status(resp->status);
    if (code != CLI_EXIT_OK) {
        problem_print(c, resp);
    }
    return code;
}

/* Reports a 2xx answer that is not what the command expects. */
static int unexpected_answer(struct cli *c, const struct cli_response *resp)
{
    cli__error(c, "the server's answer is not a JSON object (HTTP %ld)", resp->status);
    return CLI_EXIT_FAILURE;
}

int cli__call(struct cli *c, const char *method, const char *path, const json_t *body,
              cli_render_fn *render)
{
    ASSERT(c != NULL);
    ASSERT(render != NULL);
    struct errbuf err;
    errbuf_init(&err);
    struct cli_response resp;
    cli__response_init(&resp);
    enum err rc = cli__request(c, method, path, body, &resp, &err);
    int code = cli__response_check(c, rc, &err, &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    if (c->json) {
        cli__print_body(c, &resp);
    } else if (json_is_object(resp.json)) {
        render(c, resp.json);
    } else {
        code = unexpected_answer(c, &resp);
    }
out:
    cli__response_release(&resp);
    return code;
}

/* Writes the secret and a newline to save_to; on failure prints why. */
static int secret_save(struct cli *c, const char *secret, const char *save_to)
{
    struct errbuf err;
    errbuf_init(&err);
    struct buf line;
    buf_init(&line, CLI_API_KEY_BYTES_MAX + 2);
    enum err rc = buf_appendf(&line, "%s\n", secret);
    if (rc == ERR_OK) {
        rc = cli__file_create(save_to, 0600, line.data, line.len, &err);
    } else {
        rc = err_set(&err, rc, NULL, "the secret is too long to save");
    }
    if (line.data != NULL) {
        sodium_memzero(line.data, line.len);
    }
    buf_release(&line);
    if (rc == ERR_OK) {
        return CLI_EXIT_OK;
    }
    /* The caller prints the secret on stdout instead, so it is not lost. */
    cli__error(c, "cannot save the secret: %s", err.msg);
    return cli__exit_from_err(rc);
}

int cli__api_key_deliver(struct cli *c, const json_t *body, const json_t *key, const char *save_to,
                         cli_render_fn *render)
{
    ASSERT(c != NULL);
    ASSERT(render != NULL);
    const char *secret = cli__json_str(key, "secret");
    int code = CLI_EXIT_OK;
    if (save_to != NULL && secret == NULL) {
        cli__error(c, "the server's answer holds no API key secret to save");
        code = CLI_EXIT_FAILURE;
    } else if (save_to != NULL) {
        code = secret_save(c, secret, save_to);
    }
    if (c->json) {
        cli__json_print(c, body);
        return code;
    }
    render(c, body);
    cli__print_api_key(c, key, save_to != NULL && code == CLI_EXIT_OK ? save_to : NULL);
    return code;
}
