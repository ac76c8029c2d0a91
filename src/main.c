/*
 * main.c: dispatches subcommands. `bourse serve` runs the exchange (http module); every other
 * subcommand is a client of its HTTP API (cli module). The two share no state.
 */
#include "util/compat.h"
#include "cli/cli.h"
#include "http/http.h"

#include <string.h>

#include "util/banned.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        return http_serve_main(argc - 1, argv + 1);
    }
    return cli_main(argc - 1, argv + 1);
}
