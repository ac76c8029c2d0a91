/*
 * read.c: what entities, the operator and regulators read: balances, one transfer, an
 * entity's history (newest first, by cursor) and its statement for a period as CSV.
 *
 * History and statements walk each account's history chain (store.h) backwards from a point
 * found through its marks, and merge an entity's accounts in C: a page costs one indexed read
 * and at most STORE_LEDGER_MARK_EVERY + limit point reads per account, whatever the size of
 * the ledger. Ledger time never runs backwards (op.c), so ordering by (created_ms, seq) is
 * ordering by seq and a period is a contiguous run of each chain.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* who may read an entity's money: itself, the operator, regulators and the system. The
 * entity must exist; an invisible one is ERR_NOT_FOUND, as in core. The exchange's own
 * accounts (owner CLEARING_EXCHANGE: cash and fees) are the privileged callers' to read too:
 * without them nobody could check from outside that all balances of a currency sum to zero. */
static enum err visible(struct clearing *c, const struct clearing_actor *who, const char *entity_id,
                        struct errbuf *err)
{
    ASSERT(who != NULL);
    char status[STORE_KIND_MAX];
    int privileged = who->role != CLEARING_ROLE_ENTITY;
    if (privileged && entity_id != NULL && strcmp(entity_id, CLEARING_EXCHANGE) == 0) {
        return ERR_OK;
    }
    if (!privileged && (who->id == NULL || entity_id == NULL || strcmp(who->id, entity_id) != 0)) {
        return err_set(err, ERR_NOT_FOUND, "id", "no entity '%.32s'",
                       entity_id != NULL ? entity_id : "");
    }
    enum err rc = clearing__entity_status(c, entity_id, "id", status, err);
    return rc;
}

enum err clearing_accounts(struct clearing *c, const struct clearing_actor *who,
                           const char *entity_id, struct store_ledger_account **out, size_t *count,
                           struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL && count != NULL);
    *out = NULL;
    *count = 0;
    enum err rc = visible(c, who, entity_id, err);
    if (rc == ERR_OK) {
        rc = store_ledger_account_list(c->store, entity_id, out, count, err);
    }
    for (size_t i = 0; rc == ERR_OK && i < *count; i++) {
        rc = clearing__account_valid(&(*out)[i], 1, err);
    }
    if (rc != ERR_OK) {
        mem_free(*out);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

enum err clearing_transfer_get(struct clearing *c, const struct clearing_actor *who, const char *id,
                               struct store_ledger_transfer *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id, "trf")) {
        return err_set(err, ERR_INVALID, "id", "'%.32s' is not a transfer id", id ? id : "");
    }
    const char *ids[] = {id};
    int found = 0;
    enum err rc = clearing__transfers_get(c, ids, 1, out, &found, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int allowed = found && who->role != CLEARING_ROLE_ENTITY;
    if (found && !allowed) {
        const char *acc[] = {out->debit_account, out->credit_account};
        struct store_ledger_account a[2];
        int f[2];
        rc = store_ledger_accounts_get(c->store, acc, 2, a, f, err);
        for (size_t i = 0; rc == ERR_OK && i < 2; i++) {
            allowed |= f[i] && who->id != NULL && strcmp(a[i].owner, who->id) == 0;
        }
    }
    if (rc == ERR_OK && !allowed) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no transfer '%s'", id);
    }
    return rc;
}

/* ---- history ---- */

void clearing_history_release(struct clearing_history *h)
{
    if (h == NULL) {
        return;
    }
    mem_free(h->items);
    h->items = NULL;
    h->count = 0;
}

/* A cursor is "<created_ms>.<seq>" of the last entry of the previous page. */
static enum err cursor_parse(const char *cursor, int64_t *ms, int64_t *seq, struct errbuf *err)
{
    const char *dot = strchr(cursor, '.');
    char *end = NULL;
    if (dot == NULL || dot == cursor || strlen(cursor) >= CLEARING_CURSOR_MAX) {
        return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
    }
    for (const char *p = cursor; *p != '\0'; p++) {
        if (p != dot && (*p < '0' || *p > '9')) {
            return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
        }
    }
    long long a = strtoll(cursor, &end, 10);
    if (end != dot || dot - cursor > 18 || strlen(dot + 1) == 0 || strlen(dot + 1) > 18) {
        return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
    }
    long long b = strtoll(dot + 1, &end, 10);
    if (*end != '\0') {
        return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
    }
    *ms = (int64_t)a;
    *seq = (int64_t)b;
    return ERR_OK;
}

/* 1 if a comes after b in ledger order. */
static int newer(const struct store_ledger_transfer *a, const struct store_ledger_transfer *b)
{
    return a->created_ms != b->created_ms ? a->created_ms > b->created_ms : a->seq > b->seq;
}

/* ---- walking a history chain ---- */

/* A walk down one account's chain, newest first, over transfers strictly before a point. */
struct walk {
    struct clearing *c;
    const char *account;
    int64_t next; /* the seq to read next, -1 at the end */
    int64_t at_ms;
    int64_t at_seq;
    int steps_left; /* bound on the entries skipped to reach the point */
};

/* Positions w before (at_ms, at_seq) in ledger order: from the first mark at or after it,
 * else from the newest transfer; either is at most STORE_LEDGER_MARK_EVERY transfers past. */
static enum err walk_start(struct clearing *c, const struct store_ledger_account *a, int64_t at_ms,
                           int64_t at_seq, struct walk *w, struct errbuf *err)
{
    w->c = c;
    w->account = a->id;
    w->at_ms = at_ms;
    w->at_seq = at_seq;
    w->steps_left = STORE_LEDGER_MARK_EVERY + 1;
    int64_t mark = -1;
    enum err rc = store_ledger_mark_seek(c->store, a->id, at_ms, at_seq, &mark, err);
    w->next = mark >= 0 ? mark : a->last_seq;
    return rc;
}

/* The next transfer of the walk into *t; *done = 1 at the chain's start. ERR_CORRUPT for a
 * broken chain. */
static enum err walk_next(struct walk *w, struct store_ledger_transfer *t, int *done,
                          struct errbuf *err)
{
    *done = 0;
    for (;;) {
        if (w->next < 0) {
            *done = 1;
            return ERR_OK;
        }
        int found = 0;
        enum err rc = store_ledger_transfers_by_seq(w->c->store, &w->next, 1, t, &found, err);
        if (rc != ERR_OK) {
            return rc;
        }
        int debit = found && strcmp(t->debit_account, w->account) == 0;
        int credit = found && strcmp(t->credit_account, w->account) == 0;
        int64_t prev = debit ? t->debit_prev_seq : t->credit_prev_seq;
        if ((!debit && !credit) || prev >= w->next) {
            return err_set(err, ERR_CORRUPT, "", "history of account '%s' is broken at %lld",
                           w->account, (long long)w->next);
        }
        w->next = prev;
        int before = t->created_ms != w->at_ms ? t->created_ms < w->at_ms : t->seq < w->at_seq;
        if (before) {
            return ERR_OK;
        }
        if (--w->steps_left == 0) {
            return err_set(err, ERR_CORRUPT, "", "history marks of account '%s' are missing",
                           w->account);
        }
    }
}

/* Up to max transfers of the account before (at_ms, at_seq), newest first. */
static enum err walk_list(struct clearing *c, const struct store_ledger_account *a, int64_t at_ms,
                          int64_t at_seq, size_t max, struct store_ledger_transfer **out,
                          size_t *count, struct errbuf *err)
{
    *count = 0;
    *out = mem_calloc(max, sizeof(**out));
    if (*out == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory reading the ledger");
    }
    struct walk w;
    enum err rc = walk_start(c, a, at_ms, at_seq, &w, err);
    while (rc == ERR_OK && *count < max) {
        int done = 0;
        rc = walk_next(&w, &(*out)[*count], &done, err);
        if (rc != ERR_OK || done) {
            break;
        }
        (*count)++;
    }
    if (rc != ERR_OK) {
        mem_free(*out);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

/* Merges the newest of lists[i] (each newest first) into out, without repeats. */
static size_t merge_newest(struct store_ledger_transfer **lists, size_t *counts, size_t n,
                           size_t want, struct store_ledger_transfer *out)
{
    size_t pos[STORE_LEDGER_OWNER_ACCOUNTS_MAX] = {0};
    ASSERT(n <= STORE_LEDGER_OWNER_ACCOUNTS_MAX);
    size_t got = 0;
    while (got < want) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (pos[i] < counts[i] &&
                (best == n || newer(&lists[i][pos[i]], &lists[best][pos[best]]))) {
                best = i;
            }
        }
        if (best == n) {
            break;
        }
        const struct store_ledger_transfer *t = &lists[best][pos[best]++];
        if (got > 0 && out[got - 1].seq == t->seq) {
            continue; /* a transfer between two of the entity's accounts */
        }
        out[got++] = *t;
    }
    return got;
}

enum err clearing_entity_history(struct clearing *c, const struct clearing_actor *who,
                                 const char *entity_id, const char *cursor, size_t limit,
                                 struct clearing_history *out, struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    ASSERT(limit >= 1 && limit <= CLEARING_PAGE_MAX);
    memset(out, 0, sizeof(*out));
    int64_t at_ms = INT64_MAX, at_seq = INT64_MAX;
    enum err rc = cursor != NULL ? cursor_parse(cursor, &at_ms, &at_seq, err) : ERR_OK;
    struct store_ledger_account *acc = NULL;
    size_t nacc = 0;
    if (rc == ERR_OK) {
        rc = clearing_accounts(c, who, entity_id, &acc, &nacc, err);
    }
    struct store_ledger_transfer *lists[STORE_LEDGER_OWNER_ACCOUNTS_MAX] = {NULL};
    size_t counts[STORE_LEDGER_OWNER_ACCOUNTS_MAX] = {0};
    for (size_t i = 0; i < nacc && rc == ERR_OK; i++) {
        rc = walk_list(c, &acc[i], at_ms, at_seq, limit + 1, &lists[i], &counts[i], err);
    }
    if (rc == ERR_OK) {
        out->items = mem_calloc(limit + 1, sizeof(*out->items));
        rc = out->items != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        out->count = merge_newest(lists, counts, nacc, limit + 1, out->items);
        if (out->count > limit) {
            out->count = limit;
            const struct store_ledger_transfer *last = &out->items[limit - 1];
            snprintf(out->next_cursor, sizeof(out->next_cursor), "%" PRId64 ".%" PRId64,
                     last->created_ms, last->seq);
        }
    }
    for (size_t i = 0; i < nacc; i++) {
        mem_free(lists[i]);
    }
    mem_free(acc);
    if (rc != ERR_OK) {
        clearing_history_release(out);
    }
    return rc;
}

/* ---- statements ---- */

/* Appends one CSV field (RFC 4180 quoting), with a "'" before text a spreadsheet would take
 * for a formula. */
static enum err csv_text(struct buf *b, const char *s, int last)
{
    enum err rc = ERR_OK;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) {
        rc = buf_append(b, "\"", 1);
    }
    if (rc == ERR_OK && s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL) {
        rc = buf_append(b, "'", 1);
    }
    for (const char *p = s; rc == ERR_OK && *p != '\0'; p++) {
        rc = *p == '"' ? buf_append(b, "\"\"", 2) : buf_append(b, p, 1);
    }
    if (rc == ERR_OK && quote) {
        rc = buf_append(b, "\"", 1);
    }
    if (rc == ERR_OK) {
        rc = buf_append(b, last ? "\r\n" : ",", last ? 2 : 1);
    }
    return rc;
}

struct line {
    const char *record;
    int64_t ms;
    const struct store_ledger_account *account;
    const struct store_ledger_transfer *t; /* NULL for opening and closing */
    int64_t debit, credit, pending_change;
    int64_t balance, pending_balance;
};

/* Words a buffer failure (buf_* leave errbuf alone). */
static enum err buf_failed(enum err rc, struct errbuf *err)
{
    if (rc == ERR_LIMIT) {
        return err_set(err, ERR_LIMIT, "to",
                       "the statement is larger than %u bytes; ask for a shorter period",
                       CLEARING_STATEMENT_BYTES_MAX);
    }
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "out of memory writing the statement");
}

static enum err csv_line(struct buf *b, const struct line *l, struct errbuf *err)
{
    char time[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(l->ms, time);
    enum err rc = buf_appendf(b, "%s,%s,%s,%s,%s,", l->record, time, l->account->id,
                              l->account->kind, l->account->currency);
    const struct store_ledger_transfer *t = l->t;
    const char *texts[] = {t != NULL ? t->id : "", t != NULL ? t->kind : "",
                           t != NULL ? t->code : "", t != NULL ? t->reference : ""};
    for (size_t i = 0; i < ARRAY_LEN(texts) && rc == ERR_OK; i++) {
        rc = csv_text(b, texts[i], 0);
    }
    if (rc == ERR_OK) {
        rc = buf_appendf(b, "%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\r\n",
                         l->debit, l->credit, l->pending_change, l->balance, l->pending_balance);
    }
    return buf_failed(rc, err);
}

/* The account's (posted, pending) net balances just after t. */
static void after(const struct store_ledger_transfer *t, const char *account, int64_t *posted,
                  int64_t *pending)
{
    int debit = strcmp(t->debit_account, account) == 0;
    ASSERT(debit || strcmp(t->credit_account, account) == 0);
    *posted = debit ? t->debit_posted_after : t->credit_posted_after;
    *pending = debit ? t->debit_pending_after : t->credit_pending_after;
}

/* The seqs of one account's transfers in [from_ms, to_ms), newest first, found by walking
 * back from to_ms; *opening is the transfer just before from_ms (found = 0 when none). */
static enum err statement_walk(struct clearing *c, const struct store_ledger_account *a,
                               int64_t from_ms, int64_t to_ms, int64_t **seqs, size_t *n,
                               struct store_ledger_transfer *opening, int *found, size_t *lines,
                               struct errbuf *err)
{
    struct walk w;
    size_t cap = 0;
    *seqs = NULL;
    *n = 0;
    *found = 0;
    enum err rc = walk_start(c, a, to_ms, -1, &w, err);
    while (rc == ERR_OK) {
        int done = 0;
        rc = walk_next(&w, opening, &done, err);
        if (rc != ERR_OK || done) {
            break;
        }
        if (opening->created_ms < from_ms) {
            *found = 1;
            break;
        }
        if (++*lines > CLEARING_STATEMENT_LINES_MAX) {
            rc = err_set(err, ERR_LIMIT, "to",
                         "a statement holds at most %d lines; ask for a "
                         "shorter period",
                         CLEARING_STATEMENT_LINES_MAX);
            break;
        }
        if (*n == cap) {
            cap = cap == 0 ? 64 : 2 * cap;
            int64_t *p = mem_realloc(*seqs, cap * sizeof(*p));
            if (p == NULL) {
                rc = err_set(err, ERR_NOMEM, "", "out of memory writing the statement");
                break;
            }
            *seqs = p;
        }
        (*seqs)[(*n)++] = opening->seq;
    }
    if (rc != ERR_OK) {
        mem_free(*seqs);
        *seqs = NULL;
        *n = 0;
    }
    return rc;
}

/* The entry lines of seqs (newest first), oldest first, STORE_LEDGER_IDS_MAX per read. */
static enum err statement_entries(struct clearing *c, const struct store_ledger_account *a,
                                  const int64_t *seqs, size_t n, struct line *l, struct buf *csv,
                                  struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t done = 0; done < n && rc == ERR_OK;) {
        int64_t want[STORE_LEDGER_IDS_MAX];
        struct store_ledger_transfer got[STORE_LEDGER_IDS_MAX];
        int found[STORE_LEDGER_IDS_MAX];
        size_t k = n - done < STORE_LEDGER_IDS_MAX ? n - done : STORE_LEDGER_IDS_MAX;
        for (size_t i = 0; i < k; i++) {
            want[i] = seqs[n - 1 - done - i];
        }
        rc = store_ledger_transfers_by_seq(c->store, want, k, got, found, err);
        for (size_t i = 0; i < k && rc == ERR_OK; i++) {
            if (!found[i]) {
                rc = err_set(err, ERR_CORRUPT, "", "transfer %lld vanished", (long long)want[i]);
                break;
            }
            int64_t posted = 0, pending = 0;
            after(&got[i], a->id, &posted, &pending);
            int64_t delta = posted - l->balance;
            l->record = "entry";
            l->ms = got[i].created_ms;
            l->t = &got[i];
            l->debit = delta < 0 ? -delta : 0;
            l->credit = delta > 0 ? delta : 0;
            l->pending_change = pending - l->pending_balance;
            l->balance = posted;
            l->pending_balance = pending;
            rc = csv_line(csv, l, err);
        }
        done += k;
    }
    return rc;
}

/* One account's opening line, entries and closing line. */
static enum err statement_account(struct clearing *c, const struct store_ledger_account *a,
                                  int64_t from_ms, int64_t to_ms, size_t *lines, struct buf *csv,
                                  struct errbuf *err)
{
    struct line l = {"opening", from_ms, a, NULL, 0, 0, 0, 0, 0};
    struct store_ledger_transfer *opening = mem_alloc(sizeof(*opening));
    if (opening == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory writing the statement");
    }
    int64_t *seqs = NULL;
    size_t n = 0;
    int found = 0;
    enum err rc = statement_walk(c, a, from_ms, to_ms, &seqs, &n, opening, &found, lines, err);
    if (rc == ERR_OK && found) {
        after(opening, a->id, &l.balance, &l.pending_balance);
    }
    if (rc == ERR_OK) {
        rc = csv_line(csv, &l, err);
    }
    if (rc == ERR_OK) {
        rc = statement_entries(c, a, seqs, n, &l, csv, err);
    }
    if (rc == ERR_OK) {
        l.record = "closing";
        l.ms = to_ms;
        l.t = NULL;
        l.debit = l.credit = l.pending_change = 0;
        rc = csv_line(csv, &l, err);
    }
    mem_free(seqs);
    mem_free(opening);
    return rc;
}

enum err clearing_statement(struct clearing *c, const struct clearing_actor *who,
                            const char *entity_id, const char *currency, int64_t from_ms,
                            int64_t to_ms, struct buf *csv, struct errbuf *err)
{
    ASSERT(c != NULL && csv != NULL);
    if (from_ms < 0 || to_ms > CLEARING_TIME_MAX_MS) {
        return err_set(err, ERR_INVALID, from_ms < 0 ? "from" : "to",
                       "a statement covers 1970 to 9999");
    }
    if (to_ms <= from_ms) {
        return err_set(err, ERR_INVALID, "to", "the period must end after it starts");
    }
    enum err rc = currency != NULL ? clearing_currency_check(currency, "currency", err) : ERR_OK;
    struct store_ledger_account *acc = NULL;
    size_t nacc = 0, lines = 0;
    if (rc == ERR_OK) {
        rc = clearing_accounts(c, who, entity_id, &acc, &nacc, err);
    }
    if (rc == ERR_OK) {
        rc = buf_failed(buf_append_str(csv, "record,time,account,account_kind,currency,transfer,"
                                            "kind,code,reference,debit,credit,pending_change,"
                                            "balance,pending_balance\r\n"),
                        err);
    }
    for (size_t i = 0; i < nacc && rc == ERR_OK; i++) {
        if (currency == NULL || strcmp(acc[i].currency, currency) == 0) {
            rc = statement_account(c, &acc[i], from_ms, to_ms, &lines, csv, err);
        }
    }
    mem_free(acc);
    return rc;
}
