/*
 * health.c: `bourse health`, the simplest client command: GET /healthz and print the status the
 * server reports. It is what scripts poll while a server starts.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <string.h>

#include "util/banned.h"

static int health(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    (void)a;
    struct errbuf err;
    errbuf_init(&err);
    struct cli_response resp;
    cli__response_init(&resp);
    enum err rc = cli__request(c, "GET", "/healthz", NULL, &resp, &err);
    int code = cli__response_check(c, rc, &err, &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    if (c->json) {
        cli__print_body(c, &resp);
        goto out;
    }
    /* {"status": "ok", ...} from a JSON server; plain text is printed as it came. */
    const char *status = cli__json_str(resp.json, "status");
    if (status == NULL && resp.json == NULL && resp.raw.len > 0) {
        while (resp.raw.len > 0 && strchr("\r\n", resp.raw.data[resp.raw.len - 1]) != NULL) {
            resp.raw.data[--resp.raw.len] = '\0';
        }
        status = resp.raw.data;
    }
    cli__print_text(c->out, status != NULL && status[0] != '\0' ? status : "ok");
    fputc('\n', c->out);
out:
    cli__response_release(&resp);
    return code;
}

const struct cli_command cli__health_commands[] = {
    {"health", NULL, health, NULL, NULL, NULL, 0, "", "ask the server whether it is up"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
