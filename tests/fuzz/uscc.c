/*
 * uscc.c: libFuzzer target for the GB 32100-2015 validator. Besides never crashing, it checks
 * a property: a code that validates stops validating when its check character changes.
 */
#include "util/compat.h"
#include "core/core.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char code[64];
    if (size >= sizeof(code)) {
        return 0;
    }
    memcpy(code, data, size);
    code[size] = '\0';
    struct errbuf err;
    errbuf_init(&err);
    if (core_uscc_validate(code, &err) != ERR_OK) {
        ASSERT(err.msg[0] != '\0');
        return 0;
    }
    ASSERT(strlen(code) == CORE_USCC_LEN);
    static const char charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    char original = code[CORE_USCC_LEN - 1];
    for (const char *c = charset; *c != '\0'; c++) {
        if (*c == original) {
            continue;
        }
        code[CORE_USCC_LEN - 1] = *c;
        ASSERT(core_uscc_validate(code, NULL) == ERR_INVALID);
    }
    return 0;
}
