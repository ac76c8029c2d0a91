/*
 * core_int.h: declarations shared by core's own files.
 */
#ifndef BOURSE_CORE_INT_H
#define BOURSE_CORE_INT_H

#include "core/core.h"

/* Checks a base64 Ed25519 public key (32 bytes, a valid point). ERR_INVALID otherwise. */
enum err core__public_key_check(const char *b64, struct errbuf *err);

/* The public JSON of an entity recorded in the log; NULL on allocation failure. */
json_t *core__entity_event_body(const struct store_entity *e);

/* Fills key with a new id, a fresh secret and its keyed hash. Cannot fail. */
void core__key_prepare(struct core *c, const char *entity_id, const char *label, int64_t now_ms,
                       struct core_new_key *key);

#endif
