/*
 * delivery.c: `bourse upload`, `bourse download`, `bourse object show|fetch` and `bourse
 * download-token create|revoke`: files in and out of the exchange's custody.
 *
 * Files do not fit the JSON request function (request.c), so this file speaks libcurl itself
 * for the two bulk transfers, with the same headers and settings:
 *
 *   upload    hashes the file, asks the server for an unfinished upload of the same bytes
 *             (GET /v1/uploads?sha256=) and resumes it, or starts one; sends each missing
 *             chunk with its SHA-256 (PUT .../chunks/{n}); completes it. Interrupted, the same
 *             command continues where it stopped.
 *   download  writes the bytes to the output file; a partial file is continued with a Range
 *             request, and the whole file's SHA-256 is checked against the server's ETag (the
 *             content's SHA-256) at the end. An interrupted download leaves the partial file
 *             for the next run.
 *
 * A progress bar (bytes, percent, rate) goes to stderr when it is a terminal, or with
 * --progress. The API key is sent only to the configured server, never to a URL elsewhere.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

#define CHUNK_BYTES_MAX (8u << 20)             /* the server's limit (delivery.h) */
#define TRANSFER_TIMEOUT_MS (6L * 3600 * 1000) /* a big file on a slow line */
#define LOW_SPEED_BYTES 1024L                  /* below this a second ... */
#define LOW_SPEED_SECONDS 60L                  /* ... for this long is a stalled line */
#define PROBLEM_BYTES_MAX (64u << 10)          /* an error body is a small JSON */
#define HASH_BLOCK_BYTES (1u << 20)
#define TOKEN_PREFIX "bdt_"

/* ---- small pieces ---- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

/* SHA-256 of the first `limit` bytes of fd (-1: all) into ctx, which the caller owns. */
static enum err hash_fd(int fd, int64_t limit, EVP_MD_CTX *ctx, int64_t *size, struct errbuf *err)
{
    unsigned char *block = mem_alloc(HASH_BLOCK_BYTES);
    if (block == NULL) {
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    enum err rc = ERR_OK;
    *size = 0;
    for (;;) {
        size_t want = HASH_BLOCK_BYTES;
        if (limit >= 0 && (int64_t)want > limit - *size) {
            want = (size_t)(limit - *size);
        }
        ssize_t n = want > 0 ? read(fd, block, want) : 0;
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = err_set(err, ERR_IO, NULL, "cannot read: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        EVP_DigestUpdate(ctx, block, (size_t)n);
        *size += n;
    }
    mem_free(block);
    return rc;
}

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static enum err digest_done(EVP_MD_CTX *ctx, char hex[65], struct errbuf *err)
{
    unsigned char d[32];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx, d, &n) != 1 || n != 32) {
        return err_set(err, ERR_NOMEM, NULL, "cannot finish a SHA-256");
    }
    hex_of(d, 32, hex);
    return ERR_OK;
}

/* The SHA-256 and size of a whole file. */
static enum err file_digest(const char *path, char hex[65], int64_t *size, struct errbuf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(err, ERR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum err rc = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
                      ? hash_fd(fd, -1, ctx, size, err)
                      : err_set(err, ERR_NOMEM, NULL, "out of memory");
    if (rc == ERR_OK) {
        rc = digest_done(ctx, hex, err);
    }
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

/* ---- progress ---- */

struct progress {
    FILE *out; /* NULL: no bar */
    const char *what;
    int64_t total;
    int64_t base; /* bytes done before this run (resumed) */
    int64_t t0_ns;
    int64_t last_ns;
};

static void progress_init(struct progress *p, struct cli *c, const struct cli_args *a,
                          const char *what, int64_t total, int64_t base)
{
    int on = cli__arg_given(a, "progress") || isatty(fileno(c->errout));
    p->out = on ? c->errout : NULL;
    p->what = what;
    p->total = total;
    p->base = base;
    p->t0_ns = clock_monotonic_ns();
    p->last_ns = 0;
}

static void progress_show(struct progress *p, int64_t done, int final)
{
    int64_t now = clock_monotonic_ns();
    if (p->out == NULL || (!final && now - p->last_ns < 100000000)) {
        return;
    }
    p->last_ns = now;
    double secs = (double)(now - p->t0_ns) / 1e9;
    double rate = secs > 0 ? (double)(done - p->base) / secs / 1048576.0 : 0;
    int pct = p->total > 0 ? (int)(done * 100 / p->total) : 100;
    fprintf(p->out, "\r%s %8.1f / %.1f MiB %3d%% %7.1f MiB/s", p->what, (double)done / 1048576.0,
            (double)p->total / 1048576.0, pct, rate);
    if (final) {
        fputc('\n', p->out);
    }
    fflush(p->out);
}

/* ---- raw transfers ---- */

struct transfer {
    int fd;             /* download target, or -1 */
    EVP_MD_CTX *hash;   /* running digest of what is written, or NULL */
    int64_t written;    /* bytes written to fd */
    struct buf problem; /* the body of an error answer */
    long status;        /* from the header callback */
    char etag[72];      /* the ETag answered, unquoted */
    char content_range[96];
    char content_length[24];
    struct progress *bar;
    int64_t bar_base;
    enum err rc;
    char why[128];
};

static void header_copy(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0) {
        return;
    }
    const char *v = line + n;
    size_t vl = len - n;
    while (vl > 0 && (*v == ' ' || *v == '"')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == '"')) {
        vl--;
    }
    snprintf(out, cap, "%.*s", (int)(vl < cap ? vl : cap - 1), v);
}

static size_t header_cb(char *line, size_t size, size_t count, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * count;
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        t->status = strtol(memchr(line, ' ', len) != NULL ? strchr(line, ' ') + 1 : "0", NULL, 10);
        t->etag[0] = '\0';
        t->content_range[0] = '\0';
        t->content_length[0] = '\0';
    }
    header_copy(line, len, "etag:", t->etag, sizeof(t->etag));
    header_copy(line, len, "content-range:", t->content_range, sizeof(t->content_range));
    header_copy(line, len, "content-length:", t->content_length, sizeof(t->content_length));
    if (t->bar != NULL && t->content_length[0] != '\0') {
        t->bar->total = t->bar_base + atoll(t->content_length);
    }
    return len;
}

static size_t body_cb(char *data, size_t size, size_t count, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * count;
    if (t->status < 200 || t->status > 299 || t->fd < 0) {
        return buf_append(&t->problem, data, len) == ERR_OK ? len : 0;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(t->fd, data + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            t->rc = ERR_IO;
            snprintf(t->why, sizeof(t->why), "cannot write the output: %s", strerror(errno));
            return 0;
        }
        off += (size_t)w;
    }
    if (t->hash != NULL) {
        EVP_DigestUpdate(t->hash, data, len);
    }
    t->written += (int64_t)len;
    if (t->bar != NULL) {
        progress_show(t->bar, t->bar_base + t->written, 0);
    }
    return len;
}

/* Performs one transfer on curl (URL and method set by the caller) with the common headers.
 * key NULL sends no Authorization. The transport's failure is ERR_UNAVAILABLE. */
static enum err transfer_run(CURL *curl, const char *key, const char *const *extra, size_t n,
                             struct transfer *t, struct errbuf *err)
{
    struct curl_slist *headers = NULL;
    char line[CLI_API_KEY_BYTES_MAX + 64];
    int ok = 1;
    for (size_t i = 0; i <= n + 1 && ok; i++) {
        const char *h = i < n ? extra[i] : "Expect:";
        if (i == n + 1) {
            if (key == NULL) {
                break;
            }
            snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
            h = line;
        }
        struct curl_slist *next = curl_slist_append(headers, h);
        ok = next != NULL;
        headers = ok ? next : headers;
    }
    sodium_memzero(line, sizeof(line));
    if (!ok) {
        curl_slist_free_all(headers);
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    char errtext[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "bourse-cli");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TRANSFER_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECONDS);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errtext);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    CURLcode cc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (cc == CURLE_WRITE_ERROR && t->rc != ERR_OK) {
        return err_set(err, t->rc, NULL, "%s", t->why);
    }
    if (cc != CURLE_OK) {
        return err_set(err, ERR_UNAVAILABLE, NULL, "%s",
                       errtext[0] != '\0' ? errtext : curl_easy_strerror(cc));
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t->status);
    return ERR_OK;
}

static void transfer_init(struct transfer *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->fd = fd;
    buf_init(&t->problem, PROBLEM_BYTES_MAX);
}

/* Reports a non-2xx answer the way every command does; returns the exit code. */
static int transfer_problem(struct cli *c, struct transfer *t)
{
    struct cli_response resp;
    cli__response_init(&resp);
    resp.status = t->status;
    if (t->problem.data != NULL) {
        buf_append(&resp.raw, t->problem.data, t->problem.len);
        json_error_t jerr;
        resp.json = json_loadb(t->problem.data, t->problem.len, 0, &jerr);
    }
    struct errbuf err;
    errbuf_init(&err);
    int code = cli__response_check(c, ERR_OK, &err, &resp);
    cli__response_release(&resp);
    return code;
}

/* ---- upload ---- */

struct upload_plan {
    const char *path;
    char sha256[65];
    int64_t size;
    char id[ID_MAX];
    int64_t chunk_size;
    int64_t chunk_count;
    unsigned char *received; /* 1 per chunk the server has */
    int64_t received_bytes;
    int resumed;
};

/* Fills plan from an upload's JSON (with "received" when asked for by id). */
static enum err plan_from(struct upload_plan *p, const json_t *u, struct errbuf *err)
{
    const char *id = cli__json_str(u, "id");
    p->chunk_size = json_integer_value(json_object_get(u, "chunk_size"));
    p->chunk_count = json_integer_value(json_object_get(u, "chunk_count"));
    if (id == NULL || !id_valid(id, "upl") || p->chunk_size <= 0 ||
        p->chunk_size > CHUNK_BYTES_MAX || p->chunk_count < 0 ||
        p->chunk_count != (p->size + p->chunk_size - 1) / p->chunk_size) {
        return err_set(err, ERR_CORRUPT, NULL, "the server's upload record is malformed");
    }
    snprintf(p->id, sizeof(p->id), "%s", id);
    mem_free(p->received);
    p->received = mem_calloc((size_t)p->chunk_count + 1, 1);
    if (p->received == NULL) {
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    const json_t *got = json_object_get(u, "received");
    for (size_t i = 0; i < json_array_size(got); i++) {
        json_int_t n = json_integer_value(json_array_get(got, i));
        if (n >= 0 && n < p->chunk_count && !p->received[n]) {
            p->received[n] = 1;
            p->received_bytes +=
                n + 1 < p->chunk_count ? p->chunk_size : p->size - n * p->chunk_size;
        }
    }
    return ERR_OK;
}

/* A JSON request whose 2xx answer is an object; otherwise the exit code is in *code. */
static int json_call(struct cli *c, const char *method, const char *path, const json_t *body,
                     struct cli_response *resp)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__request(c, method, path, body, resp, &err);
    int code = cli__response_check(c, rc, &err, resp);
    if (code == CLI_EXIT_OK && !json_is_object(resp->json)) {
        cli__error(c, "the server's answer is not a JSON object");
        code = CLI_EXIT_FAILURE;
    }
    return code;
}

/* Finds an unfinished upload of the same bytes, or starts one. */
static int upload_begin(struct cli *c, const struct cli_args *a, struct upload_plan *p)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    struct cli_response resp;
    cli__response_init(&resp);
    const char *product = cli__arg(a, "product");
    const char *revision = cli__arg(a, "revision");
    const char *chunk = cli__arg(a, "chunk-size");
    int code = CLI_EXIT_FAILURE;
    struct errbuf err;
    errbuf_init(&err);
    if (buf_appendf(&path, "/v1/uploads?sha256=%s&product_id=", p->sha256) != ERR_OK ||
        cli__url_escape_append(&path, product) != ERR_OK) {
        cli__error(c, "out of memory");
        goto out;
    }
    code = json_call(c, "GET", path.data, NULL, &resp);
    const json_t *items = json_object_get(resp.json, "items");
    for (size_t i = 0; code == CLI_EXIT_OK && i < json_array_size(items); i++) {
        const json_t *u = json_array_get(items, i);
        const char *rev = cli__json_str(u, "revision_id");
        int fits =
            json_integer_value(json_object_get(u, "size")) == p->size &&
            (revision == NULL || (rev != NULL && strcmp(rev, revision) == 0)) &&
            (chunk == NULL || json_integer_value(json_object_get(u, "chunk_size")) == atoll(chunk));
        if (!fits) {
            continue;
        }
        buf_reset(&path);
        char id[ID_MAX];
        snprintf(id, sizeof(id), "%s",
                 cli__json_str(u, "id") != NULL ? cli__json_str(u, "id") : "");
        const char *parts[] = {"/v1/uploads/", id};
        cli__response_release(&resp); /* u and its strings go with it */
        code = cli__path(&path, parts, 2) == ERR_OK ? json_call(c, "GET", path.data, NULL, &resp)
                                                    : CLI_EXIT_FAILURE;
        if (code == CLI_EXIT_OK && plan_from(p, resp.json, &err) != ERR_OK) {
            cli__error(c, "%s", err.msg);
            code = CLI_EXIT_FAILURE;
        }
        p->resumed = code == CLI_EXIT_OK;
        goto out;
    }
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "product_id", product, "name",
                             cli__arg_given(a, "name") ? cli__arg(a, "name") : base_name(p->path),
                             "size", (json_int_t)p->size, "sha256", p->sha256);
    if (body == NULL || cli__json_put(body, "revision_id", revision) != ERR_OK ||
        (chunk != NULL && json_object_set_new(body, "chunk_size", json_integer(atoll(chunk))))) {
        json_decref(body);
        cli__error(c, "out of memory");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    cli__response_release(&resp);
    code = json_call(c, "POST", "/v1/uploads", body, &resp);
    json_decref(body);
    if (code == CLI_EXIT_OK && plan_from(p, resp.json, &err) != ERR_OK) {
        cli__error(c, "%s", err.msg);
        code = CLI_EXIT_FAILURE;
    }
out:
    cli__response_release(&resp);
    buf_release(&path);
    return code;
}

/* Sends chunk n. */
static int chunk_send(struct cli *c, CURL *curl, struct upload_plan *p, int fd, int64_t n,
                      unsigned char *buf)
{
    size_t len = (size_t)(n + 1 < p->chunk_count ? p->chunk_size : p->size - n * p->chunk_size);
    ssize_t got = pread(fd, buf, len, (off_t)(n * p->chunk_size));
    if (got != (ssize_t)len) {
        cli__error(c, "cannot read chunk %lld of '%s': %s", (long long)n, p->path,
                   got < 0 ? strerror(errno) : "the file changed");
        return CLI_EXIT_FAILURE;
    }
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(buf, len, d, &dl, EVP_sha256(), NULL);
    char hdr[96], hex[65], url[CLI_URL_BYTES_MAX + 128];
    hex_of(d, 32, hex);
    snprintf(hdr, sizeof(hdr), "Chunk-SHA256: %s", hex);
    snprintf(url, sizeof(url), "%s/v1/uploads/%s/chunks/%lld", c->url, p->id, (long long)n);
    const char *extra[] = {hdr, "Content-Type: application/octet-stream"};
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, buf);
    struct transfer t;
    transfer_init(&t, -1);
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = transfer_run(curl, c->key, extra, ARRAY_LEN(extra), &t, &err);
    int code = CLI_EXIT_OK;
    if (rc != ERR_OK) {
        cli__error(c, "chunk %lld: %s; run the same command again to resume", (long long)n,
                   err.msg);
        code = cli__exit_from_err(rc);
    } else if (t.status < 200 || t.status > 299) {
        code = transfer_problem(c, &t);
    }
    buf_release(&t.problem);
    return code;
}

static int chunks_send(struct cli *c, const struct cli_args *a, struct upload_plan *p,
                       int64_t *sent)
{
    int fd = open(p->path, O_RDONLY | O_CLOEXEC);
    unsigned char *buf = mem_alloc(p->chunk_size > 0 ? (size_t)p->chunk_size : 1);
    CURL *curl = curl_easy_init();
    int code = CLI_EXIT_OK;
    if (fd < 0 || buf == NULL || curl == NULL) {
        cli__error(c, "cannot read '%s': %s", p->path, fd < 0 ? strerror(errno) : "out of memory");
        code = CLI_EXIT_FAILURE;
    }
    struct progress bar;
    progress_init(&bar, c, a, "upload", p->size, p->received_bytes);
    int64_t done = p->received_bytes;
    for (int64_t n = 0; n < p->chunk_count && code == CLI_EXIT_OK; n++) {
        if (p->received[n]) {
            continue;
        }
        code = chunk_send(c, curl, p, fd, n, buf);
        if (code == CLI_EXIT_OK) {
            (*sent)++;
            done += n + 1 < p->chunk_count ? p->chunk_size : p->size - n * p->chunk_size;
            progress_show(&bar, done, 0);
        }
    }
    if (code == CLI_EXIT_OK) {
        progress_show(&bar, done, 1);
    }
    curl_easy_cleanup(curl);
    mem_free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return code;
}

static void object_print(struct cli *c, const json_t *o)
{
    cli__print_field(c, "object", cli__json_str(o, "id"));
    cli__print_field(c, "name", cli__json_str(o, "name"));
    cli__print_field(c, "product", cli__json_str(o, "product_id"));
    cli__print_field(c, "revision", cli__json_str(o, "revision_id"));
    cli__print_field_int(c, "size", o, "size");
    cli__print_field(c, "sha256", cli__json_str(o, "sha256"));
    cli__print_field(c, "format", cli__json_str(o, "format"));
    cli__print_field_int(c, "rows", o, "rows");
    cli__print_field(c, "stored", cli__json_str(o, "created_at"));
}

static int upload_complete(struct cli *c, const struct upload_plan *p, int64_t sent)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/uploads/%s/complete", p->id);
    struct cli_response resp;
    cli__response_init(&resp);
    int code = json_call(c, "POST", path, NULL, &resp);
    if (code == CLI_EXIT_OK) {
        json_object_set_new(resp.json, "upload_id", json_string(p->id));
        json_object_set_new(resp.json, "resumed", json_boolean(p->resumed));
        json_object_set_new(resp.json, "chunks_sent", json_integer(sent));
        json_object_set_new(resp.json, "chunks_total", json_integer(p->chunk_count));
        if (c->json) {
            cli__json_print(c, resp.json);
        } else {
            object_print(c, resp.json);
            fprintf(c->out, "sent %lld of %lld chunks%s\n", (long long)sent,
                    (long long)p->chunk_count, p->resumed ? " (resumed)" : "");
        }
    }
    cli__response_release(&resp);
    return code;
}

static int upload_run(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct upload_plan p;
    memset(&p, 0, sizeof(p));
    p.path = a->positional[0];
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = file_digest(p.path, p.sha256, &p.size, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    int code = upload_begin(c, a, &p);
    if (code == CLI_EXIT_OK && p.resumed) {
        fprintf(c->errout, "resuming %s: %lld of %lld chunks are on the server\n", p.id,
                (long long)(p.received_bytes > 0 ? p.received_bytes / p.chunk_size : 0),
                (long long)p.chunk_count);
    }
    int64_t sent = 0;
    if (code == CLI_EXIT_OK) {
        code = chunks_send(c, a, &p, &sent);
    }
    if (code == CLI_EXIT_OK) {
        code = upload_complete(c, &p, sent);
    }
    mem_free(p.received);
    return code;
}

/* ---- download ---- */

/* Fetches url into path, continuing a partial file; verifies the SHA-256 from the ETag. */
static int fetch(struct cli *c, const struct cli_args *a, const char *url, const char *key,
                 const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli__error(c, "cannot open '%s': %s", path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    struct errbuf err;
    errbuf_init(&err);
    struct transfer t;
    transfer_init(&t, fd);
    CURL *curl = curl_easy_init();
    t.hash = EVP_MD_CTX_new();
    int64_t have = 0;
    int code = CLI_EXIT_FAILURE;
    enum err rc =
        curl != NULL && t.hash != NULL && EVP_DigestInit_ex(t.hash, EVP_sha256(), NULL) == 1
            ? hash_fd(fd, -1, t.hash, &have, &err)
            : err_set(&err, ERR_NOMEM, NULL, "out of memory");
    char range[64];
    snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)have);
    const char *extra[] = {range};
    struct progress bar;
    if (rc == ERR_OK) {
        progress_init(&bar, c, a, "download", 0, have);
        t.bar = &bar;
        t.bar_base = have;
        curl_easy_setopt(curl, CURLOPT_URL, url);
        rc = transfer_run(curl, key, extra, have > 0 ? 1 : 0, &t, &err);
    }
    if (rc != ERR_OK) {
        cli__error(c, "%s%s", err.msg,
                   t.written > 0 || have > 0 ? "; run the same command again to resume" : "");
        code = cli__exit_from_err(rc);
        goto out;
    }
    if (t.status == 416 && have > 0) {
        code = CLI_EXIT_OK; /* the file was complete already: verify it below */
    } else if (t.status == 200 && have > 0) {
        /* The server sent the whole object (it ignored the range): start over with it. */
        close(fd);
        fd = -1;
        EVP_MD_CTX_free(t.hash);
        t.hash = NULL;
        buf_release(&t.problem);
        curl_easy_cleanup(curl);
        if (truncate(path, 0) != 0) {
            cli__error(c, "cannot truncate '%s': %s", path, strerror(errno));
            return CLI_EXIT_FAILURE;
        }
        return fetch(c, a, url, key, path);
    } else if (t.status != 200 && t.status != 206) {
        code = transfer_problem(c, &t);
        goto out;
    } else {
        code = CLI_EXIT_OK;
    }
    char want[48];
    snprintf(want, sizeof(want), "bytes %lld-", (long long)have);
    if (t.status == 206 && strncmp(t.content_range, want, strlen(want)) != 0) {
        cli__error(c, "the server answered range '%s' to a request from byte %lld", t.content_range,
                   (long long)have);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    char hex[65];
    if (digest_done(t.hash, hex, &err) != ERR_OK || strlen(t.etag) != 64) {
        cli__error(c, "the server sent no SHA-256 to check the file against");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(hex, t.etag) != 0) {
        cli__error(c,
                   "'%s' is corrupt: its SHA-256 is %s, the server's is %s; remove it and "
                   "download again",
                   path, hex, t.etag);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    progress_show(&bar, have + t.written, 1);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:b}", "file", path, "sha256", hex, "size",
                              (json_int_t)(have + t.written), "resumed_from", (json_int_t)have,
                              "verified", 1);
        cli__json_print(c, o);
        json_decref(o);
    } else {
        fprintf(c->out, "%s: %lld bytes, sha256 %s verified%s\n", path,
                (long long)(have + t.written), hex, have > 0 ? " (resumed)" : "");
    }
out:
    EVP_MD_CTX_free(t.hash);
    buf_release(&t.problem);
    curl_easy_cleanup(curl);
    if (fd >= 0 && close(fd) != 0 && code == CLI_EXIT_OK) {
        cli__error(c, "cannot close '%s': %s", path, strerror(errno));
        code = CLI_EXIT_FAILURE;
    }
    return code;
}

static const char *output_of(const struct cli_args *a)
{
    return cli__arg_given(a, "output") ? cli__arg(a, "output") : cli__arg(a, "o");
}

static int download_run(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *what = a->positional[0];
    const char *out = output_of(a);
    if (out == NULL) {
        return cli__usage_error(c, cmd, "missing --output FILE (or -o FILE)");
    }
    char url[CLI_URL_BYTES_MAX + 128];
    int is_url = strncmp(what, "http://", 7) == 0 || strncmp(what, "https://", 8) == 0;
    if (!is_url && strncmp(what, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0) {
        return cli__usage_error(c, cmd, "'%s' is neither a download token nor a URL", what);
    }
    int n = is_url ? snprintf(url, sizeof(url), "%s", what)
                   : snprintf(url, sizeof(url), "%s/v1/downloads/%s", c->url, what);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        return cli__usage_error(c, cmd, "the URL is too long");
    }
    /* The token is the credential; an API key goes only to the configured server. */
    size_t base = strlen(c->url);
    int ours = strncmp(url, c->url, base) == 0 && url[base] == '/';
    return fetch(c, a, url, ours ? c->key : NULL, out);
}

/* ---- objects ---- */

static int object_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/objects/", a->positional[0]};
    int code = cli__path(&path, parts, 2) == ERR_OK
                   ? cli__call(c, "GET", path.data, NULL, object_print)
                   : CLI_EXIT_FAILURE;
    buf_release(&path);
    return code;
}

static int object_fetch(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *out = output_of(a);
    if (out == NULL) {
        return cli__usage_error(c, cmd, "missing --output FILE (or -o FILE)");
    }
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/objects/", a->positional[0], "/content", ""};
    int code = CLI_EXIT_FAILURE;
    if (buf_append_str(&path, c->url) == ERR_OK && cli__path(&path, parts, 4) == ERR_OK) {
        code = fetch(c, a, path.data, c->key, out);
    } else {
        cli__error(c, "out of memory");
    }
    buf_release(&path);
    return code;
}

/* ---- download tokens ---- */

static void token_print(struct cli *c, const json_t *t)
{
    cli__print_field(c, "token id", cli__json_str(t, "id"));
    cli__print_field(c, "contract", cli__json_str(t, "contract_id"));
    cli__print_field(c, "object", cli__json_str(t, "object_id"));
    cli__print_field(c, "expires", cli__json_str(t, "expires_at"));
    cli__print_field(c, "revoked", cli__json_str(t, "revoked_at"));
    const char *secret = cli__json_str(t, "secret");
    if (secret != NULL) {
        cli__print_field(c, "token", secret);
        fprintf(c->out, "download with: bourse download %s --output FILE\n", secret);
    }
}

static int token_create(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_object();
    const char *ttl = cli__arg(a, "ttl-seconds");
    if (body == NULL || cli__json_put(body, "object_id", cli__arg(a, "object")) != ERR_OK ||
        (ttl != NULL && json_object_set_new(body, "ttl_seconds", json_integer(atoll(ttl))) != 0)) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/contracts/", a->positional[0], "/download-tokens", ""};
    int code = cli__path(&path, parts, 4) == ERR_OK
                   ? cli__call(c, "POST", path.data, body, token_print)
                   : CLI_EXIT_FAILURE;
    buf_release(&path);
    json_decref(body);
    return code;
}

static int token_revoke(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/download-tokens/", a->positional[0]};
    int code = cli__path(&path, parts, 2) == ERR_OK
                   ? cli__call(c, "DELETE", path.data, NULL, token_print)
                   : CLI_EXIT_FAILURE;
    buf_release(&path);
    return code;
}

/* ---- the commands ---- */

static enum err check_chunk_size(const char *option, const char *value, struct errbuf *err)
{
    char *end = NULL;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0' || v < 65536 || v > CHUNK_BYTES_MAX) {
        return err_set(err, ERR_INVALID, option, "--%s must be 65536 to %u bytes", option,
                       CHUNK_BYTES_MAX);
    }
    return ERR_OK;
}

static enum err check_ttl(const char *option, const char *value, struct errbuf *err)
{
    char *end = NULL;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0' || v < 1 || v > 86400) {
        return err_set(err, ERR_INVALID, option, "--%s must be 1 to 86400 seconds", option);
    }
    return ERR_OK;
}

static const struct cli_option upload_options[] = {
    {"product", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"revision", CLI_OPT_VALUE, NULL, NULL},
    {"name", CLI_OPT_VALUE, NULL, NULL},
    {"chunk-size", CLI_OPT_VALUE, NULL, check_chunk_size},
    {"progress", 0, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option fetch_options[] = {
    {"output", CLI_OPT_VALUE, NULL, NULL},
    {"o", CLI_OPT_VALUE, NULL, NULL},
    {"progress", 0, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option token_options[] = {
    {"object", CLI_OPT_VALUE, NULL, NULL},
    {"ttl-seconds", CLI_OPT_VALUE, NULL, check_ttl},
    {NULL, 0, NULL, NULL},
};

static const char *const file_arg[] = {"FILE", NULL};
static const char *const token_arg[] = {"TOKEN-OR-URL", NULL};
static const char *const id_arg[] = {"ID", NULL};
static const char *const contract_arg[] = {"CONTRACT-ID", NULL};

const struct cli_command cli__upload_commands[] = {
    {"upload", NULL, upload_run, NULL, upload_options, file_arg, 0,
     "FILE --product ID [--revision ID] [--name NAME] [--chunk-size BYTES] [--progress]",
     "upload a product's file in checksummed chunks, resuming an unfinished upload"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__download_commands[] = {
    {"download", NULL, download_run, NULL, fetch_options, token_arg, 0,
     "TOKEN-OR-URL -o FILE [--progress]",
     "download a file bought under a contract, resuming a partial FILE, checksum verified"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__object_commands[] = {
    {"object", "show", object_show, NULL, NULL, id_arg, 0, "ID", "show a stored object"},
    {"object", "fetch", object_fetch, NULL, fetch_options, id_arg, 0, "ID -o FILE [--progress]",
     "download a stored object (its provider, the operator), checksum verified"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__token_commands[] = {
    {"download-token", "create", token_create, NULL, token_options, contract_arg, 0,
     "CONTRACT-ID [--object ID] [--ttl-seconds N]",
     "get a short-lived download token for a contract you bought (shown once)"},
    {"download-token", "revoke", token_revoke, NULL, NULL, id_arg, 0, "ID",
     "revoke a download token"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
