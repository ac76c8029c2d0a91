/*
 * delivery: how a licensed product reaches its buyer (design §2 steps 9-10): the blob store
 * with encryption at rest, chunked resumable uploads, download tokens, and the per-buyer
 * fingerprints of tabular data that let `bourse trace` name the source of a leak.
 *
 * Two parts, each in its own section below:
 *   - fingerprint: tabular parsing (CSV/TSV per RFC 4180, JSON Lines), keyed marks embedded
 *     only where the provider declared tolerance, Tardos codes against collusion, and the
 *     accusation test with its false-positive bound (docs/fingerprinting.md);
 *   - custody: content-addressed encrypted objects in the data directory (libsodium
 *     secretstream, a key per object wrapped by the exchange's master key), uploads in
 *     checksummed chunks that resume where they stopped.
 */
#ifndef BOURSE_DELIVERY_H
#define BOURSE_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- fingerprint ------------------------------------------------------------------------ */

/* ---- custody ---------------------------------------------------------------------------- */

#endif
