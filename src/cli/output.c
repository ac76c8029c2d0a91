/*
 * output.c: helpers for the human rendering of server answers. Text that comes from the server
 * is printed through cli__print_text, which replaces control characters, so that a name such as
 * "\x1b]0;pwned\x07" cannot drive the user's terminal. Missing fields print as "-": renderings
 * must survive a server that adds or omits fields.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <string.h>

#include "util/banned.h"

/* Width of the "label:" column of field listings. */
#define FIELD_LABEL_WIDTH 14

size_t cli__print_text(FILE *f, const char *s)
{
    ASSERT(f != NULL);
    if (s == NULL) {
        fputc('-', f);
        return 1;
    }
    size_t columns = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fputc('?', f);
        } else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            /* U+0080..U+009F, the C1 controls (CSI is U+009B) */
            fputc('?', f);
            p++;
        } else {
            fputc(*p, f);
            if ((*p & 0xc0) == 0x80) {
                continue; /* a continuation byte adds no column */
            }
        }
        columns++;
    }
    return columns;
}

void cli__print_cell(FILE *f, const char *s, size_t width)
{
    size_t columns = cli__print_text(f, s);
    while (columns < width) {
        fputc(' ', f);
        columns++;
    }
}

void cli__print_field(struct cli *c, const char *label, const char *value)
{
    ASSERT(c != NULL);
    ASSERT(label != NULL);
    char head[64];
    snprintf(head, sizeof(head), "%s:", label);
    cli__print_cell(c->out, head, FIELD_LABEL_WIDTH);
    cli__print_text(c->out, value);
    fputc('\n', c->out);
}

const char *cli__json_str(const json_t *obj, const char *key)
{
    ASSERT(key != NULL);
    if (!json_is_object(obj)) {
        return NULL;
    }
    return json_string_value(json_object_get(obj, key));
}

void cli__print_field_int(struct cli *c, const char *label, const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    char text[32];
    snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    cli__print_field(c, label, json_is_integer(v) ? text : NULL);
}

void cli__print_api_key(struct cli *c, const json_t *key, const char *saved_to)
{
    cli__print_field(c, "api key", cli__json_str(key, "id"));
    if (saved_to != NULL) {
        fputs("the secret was saved to '", c->out);
        cli__print_text(c->out, saved_to);
        fputs("'; the server shows it only once\n", c->out);
        return;
    }
    cli__print_field(c, "secret", cli__json_str(key, "secret"));
    fputs("this secret is shown only once: store it now\n", c->out);
}
