/*
 * cli: the client subcommands of `bourse`, every one except `serve` (design §3). Each is a small
 * program that turns its arguments into requests to the exchange's HTTP API (design §4) and
 * renders the answer for a person, or prints the server's JSON as is with --json. The client
 * shares no state with the server, only the API, so everything here also works against a remote
 * exchange. The one exception is `bourse db` (db.c), the administrator's commands that open the
 * database itself through the store module, with no server running or beside running nodes.
 *
 * The module also owns the local signing key files: `bourse key gen` writes an Ed25519 key pair
 * and later commands (signing contracts) load it with cli_key_load(). A secret key file holds one
 * line, the standard padded base64 of the 32-byte Ed25519 seed; the public key file (the same
 * path plus ".pub") holds one line, the base64 of the 32-byte public key.
 *
 * Exit codes are part of the interface: scripts rely on them (docs/cli.md).
 */
#ifndef BOURSE_CLI_H
#define BOURSE_CLI_H

#include <sodium.h>

#include "util/util.h"

/* The process exit codes of every client subcommand. */
enum cli_exit {
    CLI_EXIT_OK = 0,        /* the request succeeded (HTTP 2xx) */
    CLI_EXIT_FAILURE = 1,   /* any other failure: local I/O, a malformed response, other statuses */
    CLI_EXIT_USAGE = 2,     /* bad command line or configuration file; nothing was sent */
    CLI_EXIT_NOT_FOUND = 3, /* HTTP 404 (or 410) */
    CLI_EXIT_CONFLICT = 4,  /* HTTP 409 (or 412): conflict or wrong state; a file exists */
    CLI_EXIT_AUTH = 5,      /* HTTP 401 or 403 */
    CLI_EXIT_INVALID = 6,   /* HTTP 400, 413, 415 or 422, or invalid local input */
    CLI_EXIT_UNAVAILABLE = 7, /* the server is unreachable or answered 5xx */
};

/*
 * Runs the client subcommand in argv[0..argc-1] (argv[0] is the noun, e.g. "entity"; global
 * options such as --url may come before the noun or after the verb). Prints results on stdout and
 * errors on stderr. Returns the process exit code, one of enum cli_exit. argv is borrowed and not
 * modified. Initialises libsodium and libcurl itself.
 */
int cli_main(int argc, char **argv);

/* Length of the base64 text of a 32-byte key, without the NUL. */
#define CLI_KEY_B64_LEN 44

/*
 * Makes a new Ed25519 key pair with libsodium and writes it: `path` (mode 0600) gets the base64
 * seed and `path`.pub (mode 0644) the base64 public key, each as one line. Neither file may exist:
 * both are created with O_EXCL, and when the second cannot be written the first is removed, so
 * a failure leaves nothing behind. Fills pk with the public key. libsodium must be initialised.
 * Errors: ERR_CONFLICT when either file exists, ERR_IO when a file cannot be written, ERR_NOMEM.
 */
enum err cli_key_generate(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                          struct errbuf *err);

/*
 * Reads the secret key file at `path` (as written by cli_key_generate) and derives the signing
 * key pair: sk in libsodium's 64-byte form for crypto_sign_detached(), pk the 32-byte public
 * key. The caller should wipe sk with sodium_memzero() when done. libsodium must be initialised.
 * Errors: ERR_IO when the file cannot be read, ERR_LIMIT when it is larger than a key file can
 * be, ERR_INVALID when it does not hold the base64 of a 32-byte seed, ERR_NOMEM.
 */
enum err cli_key_load(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES],
                      unsigned char pk[crypto_sign_PUBLICKEYBYTES], struct errbuf *err);

/*
 * Reads a public key file (`path`.pub as written by cli_key_generate) into pk. Errors as for
 * cli_key_load; ERR_INVALID also when the key is not a valid Ed25519 point.
 */
enum err cli_key_load_public(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                             struct errbuf *err);

/*
 * Decodes `text` (standard padded base64, surrounding whitespace ignored) into a 32-byte Ed25519
 * public key and checks that it is a valid point. Errors: ERR_INVALID. Needs libsodium
 * initialised.
 */
enum err cli_key_public_decode(const char *text, size_t len,
                               unsigned char pk[crypto_sign_PUBLICKEYBYTES], struct errbuf *err);

/* Writes the base64 of a 32-byte key and a NUL into out. Cannot fail. */
void cli_key_encode(const unsigned char key[crypto_sign_PUBLICKEYBYTES],
                    char out[CLI_KEY_B64_LEN + 1]);

#endif
