/*
 * store_int.h: declarations shared by the store module's own files.
 */
#ifndef BOURSE_STORE_INT_H
#define BOURSE_STORE_INT_H

#include "store/store.h"

struct store {
    const struct store_ops *ops;
    void *db;
    int depth; /* transaction nesting: 0 = none, 1 = real transaction, >1 = savepoints */
};

struct store_migration {
    int version;
    const char *sql;
};

extern const struct store_migration store__migrations[];
extern const size_t store__migrations_count;

/* Copies a text column into a fixed buffer; ERR_CORRUPT if it does not fit. */
enum err store__copy_text(char *dst, size_t cap, const struct store_value *v, struct errbuf *err);

#endif
