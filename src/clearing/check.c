/*
 * check.c: the offline integrity check of the ledger (`bourse ledger check`).
 *
 * clearing_check replays every transfer in ledger order onto zeroed counters, exactly as the
 * op engine applied them, and compares: each transfer's balance snapshots, each account's
 * stored counters, the flags at every step, debits = credits per currency, and the life of
 * every pending (open, or resolved by exactly one post or void) against its stored state and
 * the open timeouts, and each account's history chain and marks.
 *
 * clearing_check_log merge-joins the clearing events (in log order) with the transfers (in
 * ledger order): because seq = log_index * CLEARING_BATCH_MAX + position, the i-th transfer of
 * the event at index n must be the row with seq n * CLEARING_BATCH_MAX + i, and its JSON must
 * equal the event's. Accounts and fee schedules are matched to the event that created them.
 *
 * Both read only, in pages, holding in memory the accounts and the pendings (not the
 * transfers), and report at most CLEARING_CHECK_PROBLEMS_MAX problems in words.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define CHECK_PAGE 1000

static void problem(struct clearing_check_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct clearing_check_report *r, const char *fmt, ...)
{
    if (r->problems < CLEARING_CHECK_PROBLEMS_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->problem[r->problems], ERRBUF_MSG_MAX, fmt, ap);
        va_end(ap);
    }
    r->problems++;
}

static enum err oom(struct errbuf *err)
{
    return err_set(err, ERR_NOMEM, "", "out of memory checking the ledger");
}

/* ---- accounts in memory ---- */

struct acc {
    struct store_ledger_account stored;
    struct store_ledger_account now; /* recomputed */
    int seen;                        /* opened by an event (check_log) */
};

struct accs {
    struct acc *items; /* in id order, as scanned */
    size_t count;
};

static enum err accs_load(struct store *s, struct accs *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    char after[ID_MAX] = "";
    for (;;) {
        struct store_ledger_account *page = NULL;
        size_t n = 0;
        enum err rc = store_ledger_account_scan(s, after, CHECK_PAGE, &page, &n, err);
        if (rc == ERR_OK && out->count + n > cap) {
            size_t ncap = cap == 0 ? CHECK_PAGE : cap * 2;
            ncap = ncap < out->count + n ? out->count + n : ncap;
            struct acc *p = mem_realloc(out->items, ncap * sizeof(*p));
            rc = p != NULL ? ERR_OK : oom(err);
            if (p != NULL) {
                out->items = p;
                cap = ncap;
            }
        }
        for (size_t i = 0; rc == ERR_OK && i < n; i++) {
            struct acc *a = &out->items[out->count++];
            memset(a, 0, sizeof(*a));
            a->stored = page[i];
            a->now = page[i];
            a->now.debits_posted = a->now.credits_posted = 0;
            a->now.debits_pending = a->now.credits_pending = 0;
            a->now.last_seq = -1;
            a->now.entries = 0;
        }
        if (rc == ERR_OK && n > 0) {
            snprintf(after, sizeof(after), "%s", page[n - 1].id);
        }
        mem_free(page);
        if (rc != ERR_OK) {
            mem_free(out->items);
            out->items = NULL;
            return rc;
        }
        if (n < CHECK_PAGE) {
            return ERR_OK;
        }
    }
}

static struct acc *accs_find(const struct accs *a, const char *id)
{
    size_t lo = 0, hi = a->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->items[mid].stored.id, id);
        if (c == 0) {
            return &a->items[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ---- pendings in memory: open addressing on the id ---- */

struct pend {
    char id[ID_MAX];
    int64_t amount;
    int64_t timeout_ms;
    struct acc *debit;
    struct acc *credit;
    char state[STORE_KIND_MAX]; /* as stored */
    int resolutions;
    char resolved_as[STORE_KIND_MAX]; /* "posted" or "voided" */
    int timeout_seen;
};

struct pends {
    struct pend *slots;
    size_t cap; /* a power of two */
    size_t count;
};

static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return h;
}

static struct pend *pends_find(const struct pends *p, const char *id)
{
    if (p->cap == 0) {
        return NULL;
    }
    for (size_t i = id_hash(id) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
        if (p->slots[i].id[0] == '\0') {
            return NULL;
        }
        if (strcmp(p->slots[i].id, id) == 0) {
            return &p->slots[i];
        }
    }
}

static enum err pends_add(struct pends *p, const struct pend *v, struct errbuf *err)
{
    if (2 * (p->count + 1) > p->cap) {
        struct pends bigger = {mem_calloc(p->cap == 0 ? 1024 : 2 * p->cap, sizeof(struct pend)),
                               p->cap == 0 ? 1024 : 2 * p->cap, 0};
        if (bigger.slots == NULL) {
            return oom(err);
        }
        for (size_t i = 0; i < p->cap; i++) {
            if (p->slots[i].id[0] != '\0') {
                enum err rc = pends_add(&bigger, &p->slots[i], err);
                ASSERT(rc == ERR_OK); /* cannot grow again: half empty */
            }
        }
        mem_free(p->slots);
        *p = bigger;
    }
    size_t i = id_hash(v->id) & (p->cap - 1);
    while (p->slots[i].id[0] != '\0') {
        i = (i + 1) & (p->cap - 1);
    }
    p->slots[i] = *v;
    p->count++;
    return ERR_OK;
}

/* ---- replay ---- */

/* A history mark the replay expects: the account's STORE_LEDGER_MARK_EVERY-th transfers. */
struct mark {
    size_t account; /* index into accs, which is in id order */
    int64_t ms;
    int64_t seq;
};

struct check {
    struct clearing_check_report *r;
    struct accs accs;
    struct pends pends;
    int64_t last_seq;
    int64_t last_ms;
    struct mark *marks;
    size_t nmarks;
    size_t marks_cap;
};

/* Links t into an account's recomputed chain, as op.c does. */
static enum err chain(struct check *k, const struct store_ledger_transfer *t, struct acc *a,
                      int64_t prev_seq, struct errbuf *err)
{
    if (prev_seq != a->now.last_seq) {
        problem(k->r, "transfer '%s' breaks the history chain of '%s'", t->id, a->stored.id);
    }
    a->now.last_seq = t->seq;
    a->now.entries++;
    if (a->now.entries % STORE_LEDGER_MARK_EVERY != 0) {
        return ERR_OK;
    }
    if (k->nmarks == k->marks_cap) {
        size_t cap = k->marks_cap == 0 ? 1024 : 2 * k->marks_cap;
        struct mark *p = mem_realloc(k->marks, cap * sizeof(*p));
        if (p == NULL) {
            return oom(err);
        }
        k->marks = p;
        k->marks_cap = cap;
    }
    struct mark m = {(size_t)(a - k->accs.items), t->created_ms, t->seq};
    k->marks[k->nmarks++] = m;
    return ERR_OK;
}

static int add_ok(int64_t *counter, int64_t amount)
{
    return !__builtin_add_overflow(*counter, amount, counter);
}

static int sub_ok(int64_t *counter, int64_t amount)
{
    if (*counter < amount) {
        return 0;
    }
    *counter -= amount;
    return 1;
}

static int flags_hold(const struct store_ledger_account *a)
{
    if ((a->flags & CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (a->debits_posted > a->credits_posted ||
         a->debits_pending > a->credits_posted - a->debits_posted)) {
        return 0;
    }
    if ((a->flags & CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        (a->credits_posted > a->debits_posted ||
         a->credits_pending > a->debits_posted - a->credits_posted)) {
        return 0;
    }
    return 1;
}

/* Post and void: the pending they resolve, its accounts and amount, released. */
static int resolve(struct check *k, const struct store_ledger_transfer *t, struct acc *d,
                   struct acc *c)
{
    struct pend *p = pends_find(&k->pends, t->pending_id);
    if (p == NULL) {
        problem(k->r, "transfer '%s' resolves '%s', which is no earlier pending", t->id,
                t->pending_id);
        return 0;
    }
    int is_post = strcmp(t->kind, "post") == 0;
    if (++p->resolutions > 1) {
        problem(k->r, "pending '%s' is resolved twice (again by '%s')", p->id, t->id);
        return 0;
    }
    snprintf(p->resolved_as, sizeof(p->resolved_as), "%s", is_post ? "posted" : "voided");
    if (p->debit != d || p->credit != c || t->amount > p->amount ||
        (!is_post && t->amount != p->amount)) {
        problem(k->r, "transfer '%s' does not match the pending '%s' it resolves", t->id, p->id);
        return 0;
    }
    if (!sub_ok(&d->now.debits_pending, p->amount) || !sub_ok(&c->now.credits_pending, p->amount)) {
        problem(k->r, "transfer '%s' releases more than is pending", t->id);
        return 0;
    }
    return 1;
}

static int apply(struct check *k, const struct store_ledger_transfer *t, struct acc *d,
                 struct acc *c, enum clearing_transfer_kind kind, struct errbuf *err, enum err *rc)
{
    int ok = 1;
    switch (kind) {
    case CLEARING_TRANSFER:
        ok = add_ok(&d->now.debits_posted, t->amount) && add_ok(&c->now.credits_posted, t->amount);
        break;
    case CLEARING_PENDING: {
        ok =
            add_ok(&d->now.debits_pending, t->amount) && add_ok(&c->now.credits_pending, t->amount);
        struct pend p;
        memset(&p, 0, sizeof(p));
        snprintf(p.id, sizeof(p.id), "%s", t->id);
        snprintf(p.state, sizeof(p.state), "%s", t->state);
        p.amount = t->amount;
        p.timeout_ms = t->timeout_ms;
        p.debit = d;
        p.credit = c;
        *rc = pends_add(&k->pends, &p, err);
        break;
    }
    case CLEARING_POST:
    case CLEARING_VOID:
        if (!resolve(k, t, d, c)) {
            return 0;
        }
        if (kind == CLEARING_POST) {
            ok = add_ok(&d->now.debits_posted, t->amount) &&
                 add_ok(&c->now.credits_posted, t->amount);
        }
        break;
    default:
        ASSERT(0 && "kind was parsed");
    }
    if (!ok) {
        problem(k->r, "transfer '%s' overflows a counter", t->id);
    }
    return ok;
}

static const char *state_of(enum clearing_transfer_kind kind)
{
    return kind == CLEARING_VOID ? "voided" : kind == CLEARING_PENDING ? NULL : "posted";
}

/* Checks one transfer's shape and applies it; store-independent failures are problems. */
static enum err check_transfer(struct check *k, const struct store_ledger_transfer *t,
                               struct errbuf *err)
{
    enum clearing_transfer_kind kind;
    struct acc *d = accs_find(&k->accs, t->debit_account);
    struct acc *c = accs_find(&k->accs, t->credit_account);
    k->r->transfers++;
    if (t->seq <= k->last_seq || t->created_ms < k->last_ms) {
        problem(k->r, "transfer '%s' breaks ledger order or time", t->id);
    }
    k->last_seq = t->seq;
    k->last_ms = t->created_ms;
    if (t->log_index < 0 || t->seq / CLEARING_BATCH_MAX != t->log_index || t->seq < 0) {
        problem(k->r, "transfer '%s' has seq %" PRId64 " outside its event %" PRId64, t->id, t->seq,
                t->log_index);
    }
    if (clearing_transfer_kind_parse(t->kind, &kind) != ERR_OK || t->amount <= 0 || d == NULL ||
        c == NULL || d == c || strcmp(d->stored.currency, t->currency) != 0 ||
        strcmp(c->stored.currency, t->currency) != 0) {
        problem(k->r, "transfer '%s' is malformed (kind, amount, accounts or currency)", t->id);
        return ERR_OK;
    }
    const char *state = state_of(kind);
    if (state != NULL && strcmp(t->state, state) != 0) {
        problem(k->r, "transfer '%s' (%s) is in state '%s'", t->id, t->kind, t->state);
    }
    enum err rc = chain(k, t, d, t->debit_prev_seq, err);
    if (rc == ERR_OK) {
        rc = chain(k, t, c, t->credit_prev_seq, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (!apply(k, t, d, c, kind, err, &rc)) {
        return rc;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (clearing__posted_net(&d->now) != t->debit_posted_after ||
        clearing__pending_net(&d->now) != t->debit_pending_after ||
        clearing__posted_net(&c->now) != t->credit_posted_after ||
        clearing__pending_net(&c->now) != t->credit_pending_after) {
        problem(k->r, "transfer '%s' records balances that the replay does not reach", t->id);
    }
    if (!flags_hold(&d->now) || !flags_hold(&c->now)) {
        problem(k->r, "transfer '%s' overdraws an account", t->id);
    }
    return ERR_OK;
}

static enum err replay(struct store *s, struct check *k, struct errbuf *err)
{
    int64_t after = -1;
    for (;;) {
        struct store_ledger_transfer *page = NULL;
        size_t n = 0;
        enum err rc = store_ledger_transfer_scan(s, after, CHECK_PAGE, &page, &n, err);
        for (size_t i = 0; i < n && rc == ERR_OK; i++) {
            rc = check_transfer(k, &page[i], err);
        }
        if (n > 0) {
            after = page[n - 1].seq;
        }
        mem_free(page);
        if (rc != ERR_OK || n < CHECK_PAGE) {
            return rc;
        }
    }
}

/* Stored counters against the replay, and debits = credits per currency. */
static void check_accounts(struct check *k)
{
    struct clearing_check_report *r = k->r;
    __int128 sums[CLEARING_CHECK_CURRENCIES_MAX][4];
    memset(sums, 0, sizeof(sums));
    for (size_t i = 0; i < k->accs.count; i++) {
        const struct store_ledger_account *a = &k->accs.items[i].stored;
        const struct store_ledger_account *n = &k->accs.items[i].now;
        struct errbuf e;
        errbuf_init(&e);
        if (clearing__account_valid(a, 1, &e) != ERR_OK) {
            problem(r, "%s", e.msg);
        }
        if (a->debits_posted != n->debits_posted || a->credits_posted != n->credits_posted ||
            a->debits_pending != n->debits_pending || a->credits_pending != n->credits_pending) {
            problem(r, "account '%s' stores balances its transfers do not add up to", a->id);
        }
        if (a->last_seq != n->last_seq || a->entries != n->entries) {
            problem(r, "account '%s' stores a history head its transfers do not lead to", a->id);
        }
        size_t j = 0;
        while (j < r->currencies && strcmp(r->totals[j].code, a->currency) != 0) {
            j++;
        }
        if (j == r->currencies) {
            if (j == CLEARING_CHECK_CURRENCIES_MAX) {
                problem(r, "more than %d currencies", CLEARING_CHECK_CURRENCIES_MAX);
                continue;
            }
            snprintf(r->totals[j].code, sizeof(r->totals[j].code), "%s", a->currency);
            r->currencies++;
        }
        sums[j][0] += n->debits_posted;
        sums[j][1] += n->credits_posted;
        sums[j][2] += n->debits_pending;
        sums[j][3] += n->credits_pending;
    }
    for (size_t j = 0; j < r->currencies; j++) {
        if (sums[j][0] != sums[j][1] || sums[j][2] != sums[j][3]) {
            problem(r, "debits do not equal credits in %s", r->totals[j].code);
        }
        r->totals[j].posted = sums[j][0] <= INT64_MAX ? (int64_t)sums[j][0] : -1;
        r->totals[j].pending = sums[j][2] <= INT64_MAX ? (int64_t)sums[j][2] : -1;
    }
}

/* Every pending's stored state against its resolutions, and the open timeouts. */
static enum err check_pendings(struct store *s, struct check *k, struct errbuf *err)
{
    struct clearing_check_report *r = k->r;
    for (size_t i = 0; i < k->pends.cap; i++) {
        const struct pend *p = &k->pends.slots[i];
        if (p->id[0] == '\0') {
            continue;
        }
        const char *want = p->resolutions == 0 ? "pending" : p->resolved_as;
        if (strcmp(p->state, want) != 0) {
            problem(r, "pending '%s' is stored as '%s' but is %s", p->id, p->state, want);
        }
        r->pending_open += p->resolutions == 0;
    }
    int64_t after_ms = INT64_MIN;
    char after_id[ID_MAX] = "";
    char(*ids)[ID_MAX] = mem_alloc(CHECK_PAGE * sizeof(*ids));
    int64_t *ms = mem_alloc(CHECK_PAGE * sizeof(*ms));
    enum err rc = ids != NULL && ms != NULL ? ERR_OK : oom(err);
    size_t n = CHECK_PAGE;
    while (rc == ERR_OK && n == CHECK_PAGE) {
        rc = store_ledger_timeouts_due(s, INT64_MAX, after_ms, after_id, CHECK_PAGE, ids, ms, &n,
                                       err);
        for (size_t i = 0; rc == ERR_OK && i < n; i++) {
            struct pend *p = pends_find(&k->pends, ids[i]);
            if (p == NULL || p->resolutions != 0 || p->timeout_ms != ms[i] || p->timeout_seen++) {
                problem(r, "timeout of '%s' names no open hold with that timeout", ids[i]);
            }
        }
        if (rc == ERR_OK && n > 0) {
            after_ms = ms[n - 1];
            snprintf(after_id, sizeof(after_id), "%s", ids[n - 1]);
        }
    }
    for (size_t i = 0; rc == ERR_OK && i < k->pends.cap; i++) {
        const struct pend *p = &k->pends.slots[i];
        if (p->id[0] != '\0' && p->resolutions == 0 && p->timeout_ms != 0 && !p->timeout_seen) {
            problem(r, "open hold '%s' has lost its timeout", p->id);
        }
    }
    mem_free(ids);
    mem_free(ms);
    return rc;
}

static int mark_order(const void *a, const void *b)
{
    const struct mark *x = a, *y = b;
    if (x->account != y->account) {
        return x->account < y->account ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The stored marks against the ones the replay expects, both in (account id, seq) order. */
static enum err check_marks(struct store *s, struct check *k, struct errbuf *err)
{
    if (k->nmarks > 0) {
        qsort(k->marks, k->nmarks, sizeof(*k->marks), mark_order);
    }
    char(*ids)[ID_MAX] = mem_alloc(CHECK_PAGE * sizeof(*ids));
    int64_t *ms = mem_alloc(CHECK_PAGE * sizeof(*ms));
    int64_t *seqs = mem_alloc(CHECK_PAGE * sizeof(*seqs));
    enum err rc = ids != NULL && ms != NULL && seqs != NULL ? ERR_OK : oom(err);
    char after[ID_MAX] = "";
    int64_t after_ms = INT64_MIN, after_seq = INT64_MIN;
    size_t want = 0, n = CHECK_PAGE;
    int bad = 0;
    while (rc == ERR_OK && n == CHECK_PAGE) {
        rc = store_ledger_mark_scan(s, after, after_ms, after_seq, CHECK_PAGE, ids, ms, seqs, &n,
                                    err);
        for (size_t i = 0; rc == ERR_OK && !bad && i < n; i++, want++) {
            const struct mark *m = want < k->nmarks ? &k->marks[want] : NULL;
            if (m == NULL || strcmp(k->accs.items[m->account].stored.id, ids[i]) != 0 ||
                m->seq != seqs[i] || m->ms != ms[i]) {
                problem(k->r, "history mark of '%s' at %lld is not where the replay puts one",
                        ids[i], (long long)seqs[i]);
                bad = 1; /* the rest would only repeat it */
            }
        }
        if (rc == ERR_OK && n > 0) {
            snprintf(after, sizeof(after), "%s", ids[n - 1]);
            after_ms = ms[n - 1];
            after_seq = seqs[n - 1];
        }
    }
    if (rc == ERR_OK && !bad && want < k->nmarks) {
        problem(k->r, "%zu history marks are missing", k->nmarks - want);
    }
    mem_free(ids);
    mem_free(ms);
    mem_free(seqs);
    return rc;
}

static enum err verdict(const struct clearing_check_report *r, enum err rc, struct errbuf *err)
{
    if (rc != ERR_OK) {
        return rc;
    }
    if (r->problems > 0) {
        return err_set(err, ERR_CORRUPT, "", "%zu ledger problem%s; first: %s", r->problems,
                       r->problems == 1 ? "" : "s", r->problem[0]);
    }
    return ERR_OK;
}

enum err clearing_check(struct store *s, struct clearing_check_report *report, struct errbuf *err)
{
    ASSERT(s != NULL && report != NULL);
    memset(report, 0, sizeof(*report));
    struct check k;
    memset(&k, 0, sizeof(k));
    k.r = report;
    k.last_seq = -1;
    k.last_ms = INT64_MIN;
    enum err rc = accs_load(s, &k.accs, err);
    report->accounts = (int64_t)k.accs.count;
    if (rc == ERR_OK) {
        rc = replay(s, &k, err);
    }
    if (rc == ERR_OK) {
        check_accounts(&k);
        rc = check_pendings(s, &k, err);
    }
    if (rc == ERR_OK) {
        rc = check_marks(s, &k, err);
    }
    mem_free(k.accs.items);
    mem_free(k.pends.slots);
    mem_free(k.marks);
    return verdict(report, rc, err);
}

/* ---- against the log ---- */

struct join {
    struct clearing_check_report *r;
    struct store *s;
    struct accs accs;
    struct store_ledger_transfer *page; /* transfers in seq order, refilled as consumed */
    size_t count;
    size_t pos;
    int64_t after;
    int done;
    char (*schedules)[ID_MAX]; /* fee schedules seen in events */
    size_t nschedules;
};

/* The next transfer row in seq order, or NULL after the last. */
static enum err join_peek(struct join *j, const struct store_ledger_transfer **out,
                          struct errbuf *err)
{
    *out = NULL;
    if (j->pos == j->count && !j->done) {
        mem_free(j->page);
        j->page = NULL;
        j->pos = 0;
        enum err rc =
            store_ledger_transfer_scan(j->s, j->after, CHECK_PAGE, &j->page, &j->count, err);
        if (rc != ERR_OK) {
            return rc;
        }
        j->done = j->count < CHECK_PAGE;
        if (j->count > 0) {
            j->after = j->page[j->count - 1].seq;
        }
    }
    if (j->pos < j->count) {
        *out = &j->page[j->pos];
    }
    return ERR_OK;
}

/* Which kinds and codes an event type may record. */
static int event_allows(const char *type, size_t i, const struct store_ledger_transfer *t)
{
    if (strcmp(type, "clearing.deposit") == 0 || strcmp(type, "clearing.withdrawal") == 0) {
        return i == 0 && strcmp(t->kind, "transfer") == 0 &&
               strcmp(t->code, type + strlen("clearing.")) == 0;
    }
    if (strcmp(type, "clearing.membership") == 0) {
        return i == 0 && strcmp(t->code, "fee.membership") == 0;
    }
    if (strcmp(type, "clearing.pending") == 0) {
        return strcmp(t->kind, "pending") == 0;
    }
    if (strcmp(type, "clearing.voided") == 0) {
        return strcmp(t->kind, "void") == 0;
    }
    if (strcmp(type, "clearing.posted") == 0) {
        return strcmp(t->kind, i == 0 ? "post" : "transfer") == 0;
    }
    return strcmp(type, "clearing.transfer") == 0 && strcmp(t->kind, "transfer") == 0;
}

static enum err join_transfers(struct join *j, const struct store_event *ev, json_t *list,
                               struct errbuf *err)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        int64_t want = ev->seq * CLEARING_BATCH_MAX + (int64_t)i;
        const struct store_ledger_transfer *t = NULL;
        enum err rc = join_peek(j, &t, err);
        while (rc == ERR_OK && t != NULL && t->seq < want) {
            problem(j->r, "transfer '%s' is in no event of the log", t->id);
            j->pos++;
            rc = join_peek(j, &t, err);
        }
        if (rc != ERR_OK) {
            return rc;
        }
        if (t == NULL || t->seq != want) {
            problem(j->r, "event %" PRId64 " records a transfer the ledger lacks (position %zu)",
                    ev->seq, i);
            continue;
        }
        j->pos++;
        j->r->transfers++;
        json_t *mine = clearing_transfer_json(t);
        if (mine == NULL) {
            return oom(err);
        }
        if (!json_equal(mine, json_array_get(list, i)) || strcmp(t->caller, ev->actor) != 0 ||
            t->created_ms != ev->time_ms || t->log_index != ev->seq ||
            !event_allows(ev->type, i, t)) {
            problem(j->r, "transfer '%s' differs from its event %" PRId64, t->id, ev->seq);
        }
        json_decref(mine);
    }
    return ERR_OK;
}

static enum err join_accounts(struct join *j, const struct store_event *ev, json_t *list,
                              struct errbuf *err)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(list, i), "id"));
        struct acc *a = id != NULL ? accs_find(&j->accs, id) : NULL;
        if (a == NULL) {
            problem(j->r, "event %" PRId64 " opens an account the ledger lacks", ev->seq);
            continue;
        }
        json_t *mine = clearing_account_json(&a->stored);
        if (mine == NULL) {
            return oom(err);
        }
        if (a->seen++ || a->stored.log_index != ev->seq ||
            !json_equal(mine, json_array_get(list, i))) {
            problem(j->r, "account '%s' differs from its event %" PRId64, id, ev->seq);
        }
        json_decref(mine);
    }
    return ERR_OK;
}

static enum err join_schedule(struct join *j, const struct store_event *ev, json_t *body,
                              struct errbuf *err)
{
    struct store_fee_schedule f;
    struct errbuf local;
    errbuf_init(&local);
    enum err rc = store_fee_schedule_get(j->s, ev->subject, &f, &local);
    if (rc == ERR_NOT_FOUND) {
        problem(j->r, "event %" PRId64 " records a fee schedule the ledger lacks", ev->seq);
        return ERR_OK;
    }
    if (rc != ERR_OK) {
        *err = local;
        return rc;
    }
    json_t *mine = clearing_fee_schedule_json(&f);
    if (mine == NULL) {
        return oom(err);
    }
    if (f.log_index != ev->seq || !json_equal(mine, body) || j->nschedules == CHECK_PAGE) {
        problem(j->r, "fee schedule '%s' differs from its event %" PRId64, f.id, ev->seq);
    } else {
        snprintf(j->schedules[j->nschedules++], ID_MAX, "%s", f.id);
    }
    json_decref(mine);
    return ERR_OK;
}

static enum err join_event(struct join *j, const struct store_event *ev, struct errbuf *err)
{
    json_error_t jerr;
    json_t *leaf = json_loadb(ev->leaf, ev->leaf_len, 0, &jerr);
    json_t *body = json_object_get(leaf, "body");
    enum err rc = ERR_OK;
    j->r->events++;
    if (!json_is_object(body) || json_integer_value(json_object_get(leaf, "seq")) != ev->seq) {
        problem(j->r, "event %" PRId64 " is malformed", ev->seq);
    } else if (strcmp(ev->type, "clearing.fee_schedule") == 0) {
        rc = join_schedule(j, ev, body, err);
    } else {
        json_t *transfers = json_object_get(body, "transfers");
        json_t *accounts = json_object_get(body, "accounts");
        if (!json_is_array(transfers) || json_array_size(transfers) == 0 ||
            json_array_size(transfers) > CLEARING_BATCH_MAX ||
            (accounts != NULL && !json_is_array(accounts))) {
            problem(j->r, "event %" PRId64 " (%s) has no transfers", ev->seq, ev->type);
        } else {
            rc = join_transfers(j, ev, transfers, err);
            if (rc == ERR_OK && accounts != NULL) {
                rc = join_accounts(j, ev, accounts, err);
            }
        }
    }
    json_decref(leaf);
    return rc;
}

static enum err join_rest(struct join *j, struct errbuf *err)
{
    const struct store_ledger_transfer *t = NULL;
    enum err rc = join_peek(j, &t, err);
    while (rc == ERR_OK && t != NULL) {
        problem(j->r, "transfer '%s' is in no event of the log", t->id);
        j->pos++;
        rc = join_peek(j, &t, err);
    }
    for (size_t i = 0; rc == ERR_OK && i < j->accs.count; i++) {
        if (!j->accs.items[i].seen) {
            problem(j->r, "account '%s' was opened by no event", j->accs.items[i].stored.id);
        }
    }
    struct store_fee_schedule *fs = NULL;
    size_t n = 0;
    if (rc == ERR_OK) {
        rc = store_fee_schedule_list(j->s, NULL, &fs, &n, err);
    }
    for (size_t i = 0; rc == ERR_OK && i < n; i++) {
        size_t k = 0;
        while (k < j->nschedules && strcmp(j->schedules[k], fs[i].id) != 0) {
            k++;
        }
        if (k == j->nschedules) {
            problem(j->r, "fee schedule '%s' was recorded by no event", fs[i].id);
        }
    }
    mem_free(fs);
    return rc;
}

enum err clearing_check_log(struct store *s, struct clearing_check_report *report,
                            struct errbuf *err)
{
    ASSERT(s != NULL && report != NULL);
    memset(report, 0, sizeof(*report));
    struct join j;
    memset(&j, 0, sizeof(j));
    j.r = report;
    j.s = s;
    j.after = -1;
    j.schedules = mem_alloc(CHECK_PAGE * sizeof(*j.schedules));
    enum err rc = j.schedules != NULL ? accs_load(s, &j.accs, err) : oom(err);
    report->accounts = (int64_t)j.accs.count;
    for (int64_t from = 0; rc == ERR_OK;) {
        struct store_event *evs = NULL;
        size_t n = 0;
        rc = store_event_range(s, from, CHECK_PAGE, &evs, &n, err);
        for (size_t i = 0; i < n; i++) {
            if (rc == ERR_OK && strncmp(evs[i].type, "clearing.", 9) == 0) {
                rc = join_event(&j, &evs[i], err);
            }
            store_event_release(&evs[i]);
        }
        mem_free(evs);
        from += (int64_t)n;
        if (n < CHECK_PAGE) {
            break;
        }
    }
    if (rc == ERR_OK) {
        rc = join_rest(&j, err);
    }
    mem_free(j.page);
    mem_free(j.accs.items);
    mem_free(j.schedules);
    return verdict(report, rc, err);
}
