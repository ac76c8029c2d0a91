/*
 * fingerprint_data.h: the synthetic dataset both fingerprint benches use, so that speed and
 * robustness are measured on the same kind of file: daily readings of electricity meters, six
 * columns as a utility would publish them (a meter id and a day as the row key, a district in
 * Chinese or English with commas that force CSV quoting, a street address, the energy in kWh
 * with two decimals and the peak load in kW with one), and the provider's tolerance
 * declaration for it (the two measurements move by one unit of their last place, street types
 * have an abbreviated spelling). Deterministic for a seed. Header-only: each bench is one file.
 */
#ifndef BOURSE_BENCH_FINGERPRINT_DATA_H
#define BOURSE_BENCH_FINGERPRINT_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

static const char fp_data_declaration[] =
    "{\"key\": [\"meter_id\", \"day\"],"
    " \"columns\": [{\"name\": \"kwh\", \"kind\": \"digit\", \"decimals\": 2},"
    "  {\"name\": \"peak_kw\", \"kind\": \"digit\", \"decimals\": 1},"
    "  {\"name\": \"address\", \"kind\": \"spelling\", \"variants\":"
    "   [[\"Street\", \"St.\"], [\"Road\", \"Rd.\"], [\"Avenue\", \"Ave.\"]]}]}";

static inline uint64_t fp_data_next(uint64_t *s)
{
    /* splitmix64: fast, deterministic, good enough for synthetic values */
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Appends `rows` rows of CSV (header first) to out. ERR_NOMEM/ERR_LIMIT from buf. */
static inline enum err fp_data_generate(struct buf *out, size_t rows, uint64_t seed)
{
    static const char *const districts[] = {"朝阳区",
                                            "海淀区",
                                            "东城区",
                                            "西城区",
                                            "\"Nanshan, Shenzhen\"",
                                            "Pudong",
                                            "丰台区",
                                            "\"Tianhe, Guangzhou\""};
    static const char *const streets[] = {"Street", "Road", "Avenue", "Lane"};
    static const char *const names[] = {"Maple",   "Jiefang", "Renmin", "Zhongshan",
                                        "Harbour", "Station", "Garden", "Lake"};
    enum err rc = buf_append_str(out, "meter_id,day,district,address,kwh,peak_kw\n");
    uint64_t s = seed;
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (size_t i = 0; rc == ERR_OK && i < rows; i++) {
        size_t meter = i / 365;
        int day = (int)(i % 365);
        int month = 0;
        while (day >= month_days[month]) {
            day -= month_days[month++];
        }
        uint64_t m = meter * 0x9e3779b97f4a7c15u; /* per-meter attributes */
        uint64_t r = fp_data_next(&s);
        unsigned kwh = (unsigned)(500 + (m >> 40) % 3000 + r % 1500);
        unsigned peak = (unsigned)(20 + (m >> 20) % 300 + (r >> 20) % 90);
        rc = buf_appendf(out, "MTR-%06zu,2025-%02d-%02d,%s,%u %s %s%s,%u.%02u,%u.%u\n", meter,
                         month + 1, day + 1, districts[(m >> 8) % 8],
                         (unsigned)(1 + (m >> 12) % 300), names[(m >> 16) % 8],
                         streets[(m >> 24) % 4], (m >> 28) % 5 == 0 ? " Apt 4" : "", kwh / 100,
                         kwh % 100, peak / 10, peak % 10);
    }
    return rc;
}

#endif
