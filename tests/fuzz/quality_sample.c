/*
 * quality_sample.c: libFuzzer target for the exchange's own quality checks on a product
 * sample (CSV and JSON Lines parsing, type checks, decimal ranges). The first byte chooses the
 * format, the rest is the sample. Besides never crashing, it checks the report's arithmetic:
 * per column, nulls and type errors never exceed the rows, a range has both ends or none,
 * and a passed report has no errors at all. Only text that is not UTF-8 is refused.
 */
#include "util/compat.h"
#include "core/core.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] =
    "[{\"name\": \"s\", \"type\": \"string\"}, {\"name\": \"i\", \"type\": \"integer\"},"
    " {\"name\": \"d\", \"type\": \"decimal\"}, {\"name\": \"b\", \"type\": \"boolean\"},"
    " {\"name\": \"day\", \"type\": \"date\"}, {\"name\": \"at\", \"type\": \"timestamp\"},"
    " {\"name\": \"e\", \"type\": \"enum\", \"values\": [\"A\", \"B\"]}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *schema;
    if (schema == NULL) {
        schema = json_loads(schema_text, 0, NULL);
        ASSERT(schema != NULL);
    }
    if (size < 1 || size > CORE_SAMPLE_BYTES_MAX) {
        return 0;
    }
    const char *format = data[0] & 1 ? "jsonl" : "csv";
    json_t *report = NULL;
    enum err rc =
        core_quality_check(schema, format, (const char *)data + 1, size - 1, &report, NULL);
    if (rc == ERR_INVALID) {
        ASSERT(!text_valid_utf8((const char *)data + 1, size - 1));
        return 0;
    }
    ASSERT(rc == ERR_OK);
    json_int_t rows = json_integer_value(json_object_get(report, "rows"));
    json_int_t errors = json_integer_value(json_object_get(report, "malformed_rows")) +
                        json_integer_value(json_object_get(report, "duplicate_rows"));
    json_t *columns = json_object_get(report, "columns");
    ASSERT(json_array_size(columns) == 7);
    for (size_t i = 0; i < json_array_size(columns); i++) {
        json_t *c = json_array_get(columns, i);
        json_int_t nulls = json_integer_value(json_object_get(c, "nulls"));
        json_int_t bad = json_integer_value(json_object_get(c, "type_errors"));
        ASSERT(nulls >= 0 && bad >= 0 && nulls + bad <= rows);
        errors += bad;
        const char *min = json_string_value(json_object_get(c, "min"));
        const char *max = json_string_value(json_object_get(c, "max"));
        ASSERT((min == NULL) == (max == NULL));
    }
    if (json_is_true(json_object_get(report, "passed"))) {
        ASSERT(rows > 0 && errors == 0);
    }
    json_decref(report);
    return 0;
}
