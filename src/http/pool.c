/*
 * pool.c: the read pool (`bourse serve --db-pool N`, docs/decisions/0008-connection-pool.md).
 *
 * The event loop's thread owns one store connection: every mutation, the group commit and the
 * leader's work run on it, one at a time, as decision 0002 requires of writers. On
 * PostgreSQL a read does not need that connection: the pool opens N - 1 more, each read-only
 * (store_open_with STORE_OPEN_READ_ONLY: PostgreSQL refuses any write on them, and
 * store_tx_begin refuses to open a transaction), each owned by one reader thread. Routes
 * flagged HTTP_ROUTE_READ are handed to the pool after the loop has routed, authenticated,
 * rate-limited and parsed them; a reader runs the handler on its own connection and renders
 * the response, and the loop sends it. So a read waits neither for the group commit nor for
 * a slow query of another client, and the database serves several reads at once.
 *
 * A reader sees only committed data (its connection is outside the loop's transaction), as a
 * client should: a mutation is acknowledged only once committed, so a read issued after the
 * acknowledgement sees it.
 *
 * Threads: a job queue under one mutex; a finished job goes back to the loop through h2o's
 * multithread queue (a pipe wake-up), and only the loop touches h2o objects. A reader's
 * `struct http_server` is a copy of the loop's with its own store; the fields readers must
 * never touch (rate limits, custody) are NULL in the copy, so a misflagged route fails loudly
 * instead of racing.
 */
#include "util/compat.h"
#include "http/http_int.h"

#include <h2o.h>
#include <pthread.h>
#include <string.h>

#include "util/banned.h"

struct pool_reader {
    struct http_pool *pool;
    pthread_t thread;
    int started;
    struct http_server srv; /* the loop's, with this reader's store */
};

/* A finished job on its way back to the loop. */
struct pool_msg {
    h2o_multithread_message_t super; /* first */
    struct http_pool_job *job;
};

struct http_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_pool_job *head, *tail; /* waiting jobs, under mu */
    int stopping;                      /* under mu */
    size_t inflight;                   /* submitted and not yet finished; loop thread only */
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    size_t nreaders;
    struct pool_reader *readers;
};

static void on_finished(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct http_pool *p = H2O_STRUCT_FROM_MEMBER(struct http_pool, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        struct pool_msg *m = H2O_STRUCT_FROM_MEMBER(struct pool_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        struct http_pool_job *job = m->job;
        mem_free(m);
        ASSERT(p->inflight > 0);
        p->inflight--;
        job->finish(job);
    }
}

static void *reader_main(void *arg)
{
    struct pool_reader *r = arg;
    struct http_pool *p = r->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stopping) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        struct http_pool_job *job = p->head;
        if (job != NULL) {
            p->head = job->next;
            if (p->head == NULL) {
                p->tail = NULL;
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (job == NULL) {
            return NULL; /* stopping, and nothing is left */
        }
        job->run(job, &r->srv);
        /* The message was allocated with the job (http__pool_submit); it carries it back. */
        h2o_multithread_send_message(&p->receiver, (h2o_multithread_message_t *)job->msg);
    }
}

static void pool_stop_threads(struct http_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nreaders; i++) {
        if (p->readers[i].started) {
            pthread_join(p->readers[i].thread, NULL);
            p->readers[i].started = 0;
        }
    }
}

void http__pool_free(struct http_pool *p, void *loop)
{
    if (p == NULL) {
        return;
    }
    pool_stop_threads(p);
    /* Every reader has sent its last message; deliver them, so that no job is lost. */
    while (p->inflight > 0) {
        h2o_evloop_run(loop, 10);
    }
    h2o_multithread_unregister_receiver(p->queue, &p->receiver);
    h2o_multithread_destroy_queue(p->queue);
    for (size_t i = 0; i < p->nreaders; i++) {
        store_close(p->readers[i].srv.core.store);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    mem_free(p->readers);
    mem_free(p);
}

enum err http__pool_new(const struct http_server *srv, const char *db_uri, size_t readers,
                        void *loop, struct http_pool **out, struct errbuf *err)
{
    ASSERT(srv != NULL && db_uri != NULL && loop != NULL && out != NULL);
    ASSERT(readers >= 1 && readers < HTTP_DB_POOL_MAX);
    *out = NULL;
    struct http_pool *p = mem_calloc(1, sizeof(*p));
    struct pool_reader *r = mem_calloc(readers, sizeof(*r));
    if (p == NULL || r == NULL) {
        mem_free(p);
        mem_free(r);
        return err_set(err, ERR_NOMEM, "", "out of memory starting the read pool");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->readers = r;
    p->nreaders = readers;
    p->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(p->queue, &p->receiver, on_finished);
    /* jansson seeds its hash function on first use; do it here, before any other thread. */
    json_object_seed(0);
    enum err rc = ERR_OK;
    for (size_t i = 0; i < readers && rc == ERR_OK; i++) {
        r[i].pool = p;
        r[i].srv = *srv;
        r[i].srv.limits = NULL;
        r[i].srv.custody = NULL;
        r[i].srv.pool = NULL;
        r[i].srv.core.store = NULL;
        rc = store_open_with(db_uri, STORE_OPEN_NO_MIGRATE | STORE_OPEN_READ_ONLY,
                             &r[i].srv.core.store, err);
    }
    for (size_t i = 0; i < readers && rc == ERR_OK; i++) {
        if (pthread_create(&r[i].thread, NULL, reader_main, &r[i]) != 0) {
            rc = err_set(err, ERR_IO, "db_pool", "cannot start reader thread %zu", i + 1);
            break;
        }
        r[i].started = 1;
    }
    if (rc != ERR_OK) {
        http__pool_free(p, loop);
        return rc;
    }
    *out = p;
    return ERR_OK;
}

int http__pool_submit(struct http_pool *p, struct http_pool_job *job)
{
    struct pool_msg *m = mem_calloc(1, sizeof(*m));
    if (m == NULL) {
        return 0; /* the caller runs it on the loop instead */
    }
    m->job = job;
    job->msg = m;
    job->next = NULL;
    p->inflight++;
    pthread_mutex_lock(&p->mu);
    if (p->tail != NULL) {
        p->tail->next = job;
    } else {
        p->head = job;
    }
    p->tail = job;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 1;
}

size_t http__pool_inflight(const struct http_pool *p)
{
    return p != NULL ? p->inflight : 0;
}

size_t http__pool_readers(const struct http_pool *p)
{
    return p != NULL ? p->nreaders : 0;
}
