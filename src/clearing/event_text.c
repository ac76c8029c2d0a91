/*
 * event_text.c: the canonical JSON text of a mutation's event body, written directly.
 *
 * The body is what op.c's mutation records: {"accounts":[...],"transfers":[...]} plus the
 * operation's extra members, with every object's keys sorted and nothing between tokens:
 * byte for byte what json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes for the tree of
 * clearing_transfer_json and clearing_account_json (clearing_test compares the two on every
 * shape and on texts that need escaping). Building that tree and dumping it cost about a fifth
 * of a batched ledger write; this costs a few percent (docs/decisions/0004-ledger.md).
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* A member's key with its punctuation, as a literal: ,"code": (the first has no comma). */
#define KEY(lit) lit, sizeof(lit) - 1

static enum err str_member(struct buf *b, const char *k, size_t klen, const char *v)
{
    enum err rc = buf_append(b, k, klen);
    return rc == ERR_OK ? buf_append_json_cstr(b, v) : rc;
}

static enum err int_member(struct buf *b, const char *k, size_t klen, int64_t v)
{
    enum err rc = buf_append(b, k, klen);
    return rc == ERR_OK ? buf_append_i64(b, v) : rc;
}

enum err clearing__transfer_text(struct buf *b, const struct store_ledger_transfer *t)
{
    ASSERT(t->id[0] != '\0');
    ASSERT(t->amount > 0);
    /* The members of clearing_transfer_json in sorted order; optional ones only when set. */
    enum err rc = int_member(b, KEY("{\"amount\":"), t->amount);
    rc = rc == ERR_OK ? str_member(b, KEY(",\"code\":"), t->code) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"credit_account\":"), t->credit_account) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"currency\":"), t->currency) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"debit_account\":"), t->debit_account) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"id\":"), t->id) : rc;
    if (rc == ERR_OK && t->idempotency_key[0] != '\0') {
        rc = str_member(b, KEY(",\"idempotency_key\":"), t->idempotency_key);
    }
    rc = rc == ERR_OK ? str_member(b, KEY(",\"kind\":"), t->kind) : rc;
    if (rc == ERR_OK && t->pending_id[0] != '\0') {
        rc = str_member(b, KEY(",\"pending_id\":"), t->pending_id);
    }
    if (rc == ERR_OK && t->reference[0] != '\0') {
        rc = str_member(b, KEY(",\"reference\":"), t->reference);
    }
    if (rc == ERR_OK && t->timeout_ms != 0) {
        char at[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(t->timeout_ms, at);
        rc = str_member(b, KEY(",\"timeout_at\":"), at);
    }
    return rc == ERR_OK ? buf_append(b, "}", 1) : rc;
}

enum err clearing__account_text(struct buf *b, const struct store_ledger_account *a)
{
    ASSERT(a->id[0] != '\0');
    enum err rc = str_member(b, KEY("{\"currency\":"), a->currency);
    rc = rc == ERR_OK ? int_member(b, KEY(",\"flags\":"), a->flags) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"id\":"), a->id) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"kind\":"), a->kind) : rc;
    rc = rc == ERR_OK ? str_member(b, KEY(",\"owner\":"), a->owner) : rc;
    return rc == ERR_OK ? buf_append(b, "}", 1) : rc;
}

static enum err transfers_array(struct buf *b, const struct clearing__op *op)
{
    enum err rc = buf_append(b, "[", 1);
    for (size_t i = 0; i < op->ntransfers && rc == ERR_OK; i++) {
        rc = i > 0 ? buf_append(b, ",", 1) : ERR_OK;
        rc = rc == ERR_OK ? clearing__transfer_text(b, &op->transfers[i]) : rc;
    }
    return rc == ERR_OK ? buf_append(b, "]", 1) : rc;
}

static enum err accounts_array(struct buf *b, const struct clearing__op *op)
{
    enum err rc = buf_append(b, "[", 1);
    int first = 1;
    for (size_t i = 0; i < op->naccounts && rc == ERR_OK; i++) {
        if (op->accounts[i].is_new) {
            rc = first ? ERR_OK : buf_append(b, ",", 1);
            rc = rc == ERR_OK ? clearing__account_text(b, &op->accounts[i].a) : rc;
            first = 0;
        }
    }
    return rc == ERR_OK ? buf_append(b, "]", 1) : rc;
}

static int has_new_account(const struct clearing__op *op)
{
    for (size_t i = 0; i < op->naccounts; i++) {
        if (op->accounts[i].is_new) {
            return 1;
        }
    }
    return 0;
}

/* A member of the body: the transfers, the accounts, or one of op->extra's. */
struct member {
    const char *key;
    json_t *extra; /* NULL for the transfers and the accounts */
};

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

/* An extra member's value as json_dumps writes it inside a sorted, compact object. */
static enum err extra_value(struct buf *b, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (text == NULL) {
        return ERR_NOMEM;
    }
    enum err rc = buf_append_str(b, text);
    free(text); /* jansson's allocator */
    return rc;
}

enum err clearing__event_text(const struct clearing__op *op, struct buf *b)
{
    /* Two own members and the extra ones (an operation adds at most a few). */
    struct member m[2 + 8];
    size_t n = 0;
    m[n++] = (struct member){"transfers", NULL};
    if (has_new_account(op)) {
        m[n++] = (struct member){"accounts", NULL};
    }
    const char *k = NULL;
    json_t *v = NULL;
    json_object_foreach(op->extra, k, v)
    {
        ASSERT(n < ARRAY_LEN(m));
        ASSERT(strcmp(k, "transfers") != 0 && strcmp(k, "accounts") != 0);
        m[n++] = (struct member){k, v};
    }
    qsort(m, n, sizeof(m[0]), member_cmp);
    enum err rc = buf_append(b, "{", 1);
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        rc = i > 0 ? buf_append(b, ",", 1) : ERR_OK;
        rc = rc == ERR_OK ? buf_append_json_cstr(b, m[i].key) : rc;
        rc = rc == ERR_OK ? buf_append(b, ":", 1) : rc;
        if (rc != ERR_OK) {
            break;
        }
        if (m[i].extra != NULL) {
            rc = extra_value(b, m[i].extra);
        } else if (strcmp(m[i].key, "transfers") == 0) {
            rc = transfers_array(b, op);
        } else {
            rc = accounts_array(b, op);
        }
    }
    return rc == ERR_OK ? buf_append(b, "}", 1) : rc;
}
