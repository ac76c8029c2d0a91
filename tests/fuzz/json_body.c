/*
 * json_body.c: libFuzzer target for everything the server does with an untrusted request
 * before a handler runs: query strings, JSON bodies (limits, duplicates, depth), member type
 * checks, and the application validators reached from the body (USCC, UTF-8 text).
 */
#include "util/compat.h"
#include "core/core.h"
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request req;
    memset(&req, 0, sizeof(req));
    struct errbuf err;
    errbuf_init(&err);
    (void)http__query_parse((const char *)data, size, &req, &err);
    for (size_t i = 0; i < req.nquery; i++) {
        ASSERT(strlen(req.query[i].name) < sizeof(req.query[i].name));
        ASSERT(text_valid_utf8(req.query[i].value, strlen(req.query[i].value)));
    }
    json_t *body = NULL;
    if (http__json_parse((const char *)data, size, &body, &err) != ERR_OK) {
        ASSERT(body == NULL);
        return 0;
    }
    ASSERT(json_is_object(body));
    static const char *const fields[] = {"kind",    "name",       "uscc", "country",
                                         "contact", "public_key", NULL};
    (void)http__json_only(body, fields, &err);
    const char *names[] = {"kind", "name", "uscc", "country", "public_key"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        const char *s = NULL;
        if (http__json_str(body, names[i], &s, &err) == ERR_OK && s != NULL) {
            (void)core_uscc_validate(s, &err);
            (void)text_valid_utf8(s, strlen(s));
            enum core_kind k;
            (void)core_kind_parse(s, &k);
        }
    }
    json_decref(body);
    return 0;
}
