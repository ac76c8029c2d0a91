/*
 * demo.c: `bourse demo load`, a realistic market on an empty exchange, drawn from the cases of
 * the IARIW-CIGI paper on China's data exchanges (../shared/seeds/003_*.txt): State Grid
 * Shanghai's enterprise electricity portrait bought by banks, Shenzhen Power Supply's
 * electricity-based credit inquiry, Suishenxing's smart parking data, a face-comparison API
 * priced CNY 3,000-19,000 a month by QPS tier, dialect speech data for model training, patent
 * data on the international board and Beijing's public-data credit inquiry products, with the
 * banks and platforms that buy them, the service firms that assess them, and open demands.
 *
 * It is a client like any other: it talks to the API with the operator's key, applies for
 * every entity with a key pair made here in memory, verifies them and issues certificates as
 * the operator, registers the products as their providers, has the operator issue the rights
 * certificates, and has each service firm sign its assessment report with its own key, as
 * `bourse assessment submit` does. USCCs are made with valid GB 11714 and GB 32100 check
 * characters around a random organisation code, so that `--force` can load the market again
 * beside an earlier one. Party names marked "(demo)" are invented; the others are the
 * institutions the paper names.
 *
 * Then the history (history_load): the operator's fee schedule and the buyers' deposits,
 * settled trades of each origin (a fixed-price order, a negotiation with counter-offers, an
 * invitation-only sealed-bid auction), a running subscription, a dispute decided with a split,
 * an open negotiation and an open auction. Each party signs its contracts here with its own
 * key over the document's exact bytes, as `bourse contract sign` does; the server never sees a
 * private key. --signing-keys saves those keys as key files. A subscription period settles
 * only at its end (30 days), so the subscription is left running with its first month held.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

#define DAY_MS ((int64_t)86400000)

enum demo_cert_flags {
    DEMO_DATA_PROVIDER = 1 << 0,
    DEMO_TRADING = 1 << 1,
    DEMO_CROSS_BORDER = 1 << 2,
};

struct demo_party {
    const char *key;
    const char *kind;
    const char *name;
    const char *region; /* administrative division code of the registration */
    const char *speciality;
    unsigned certs;
};

static const struct demo_party parties[] = {
    {"sgcc", "provider", "国网上海市电力公司 State Grid Shanghai Municipal Electric Power Company",
     "310000", NULL, DEMO_DATA_PROVIDER | DEMO_TRADING},
    {"csg", "provider", "深圳供电局有限公司 Shenzhen Power Supply Co., Ltd.", "440300", NULL,
     DEMO_DATA_PROVIDER | DEMO_TRADING},
    {"ssx", "provider", "上海随申行智慧交通科技有限公司 Suishenxing Smart Transport", "310000",
     NULL, DEMO_DATA_PROVIDER | DEMO_TRADING},
    {"vision", "provider", "山西晋数智能视觉科技有限公司 Jinshu Vision (demo)", "140100", NULL,
     DEMO_DATA_PROVIDER | DEMO_TRADING},
    {"speech", "provider", "山西晋声语料科技有限公司 Jinsheng Speech Corpus (demo)", "140100", NULL,
     DEMO_DATA_PROVIDER | DEMO_TRADING},
    {"patsnap", "provider", "智慧芽信息科技（苏州）有限公司 PatSnap Suzhou", "320500", NULL,
     DEMO_DATA_PROVIDER | DEMO_TRADING | DEMO_CROSS_BORDER},
    {"bjfbd", "provider", "北京金融大数据有限公司 Beijing Financial Big Data Co.", "110000", NULL,
     DEMO_DATA_PROVIDER | DEMO_TRADING},
    {"icbc", "buyer", "中国工商银行股份有限公司上海市分行 ICBC Shanghai Branch", "310000", NULL,
     DEMO_TRADING},
    {"nbcb", "buyer", "宁波银行股份有限公司深圳分行 Bank of Ningbo Shenzhen Branch", "440300", NULL,
     DEMO_TRADING},
    {"dxm", "buyer", "度小满科技（北京）有限公司 Duxiaoman Financial", "110000", NULL,
     DEMO_TRADING},
    {"navi", "buyer", "途图导航科技有限公司 Tutu Navigation (demo)", "310000", NULL, DEMO_TRADING},
    {"llm", "buyer", "星语大模型科技有限公司 Xingyu Language Models (demo)", "110000", NULL,
     DEMO_TRADING},
    {"quality", "service_firm", "上海数据质量评估中心 Shanghai Data Quality Centre (demo)",
     "310000", "quality", 0},
    {"law", "service_firm", "广东广和律师事务所 Guangdong Guanghe Law Firm", "440300", "compliance",
     0},
    {"security", "service_firm", "数安评估（北京）有限公司 Shu'an Security Assessment (demo)",
     "110000", "security", 0},
    {"arbitration", "service_firm",
     "上海数据交易仲裁中心 Shanghai Data Trade Arbitration Centre (demo)", "310000", "arbitration",
     0},
};
#define PARTIES (ARRAY_LEN(parties))

struct demo_product {
    const char *provider;
    const char *metadata; /* without content_hash: added here */
    const char *inputs;   /* pricing inputs, or NULL */
};

#define SRC_CORP                                                                                    \
    "\"source\":{\"method\":\"collected\",\"legal_basis\":\"供用电合同与客户授权 supply " \
    "contracts and customer authorisation\",\"processing\":\"清洗、汇总、脱敏 cleansed, "   \
    "aggregated, de-identified\",\"personal_information\":{\"contained\":false}}"
#define SRC_PUBLIC                                                                                    \
    "\"source\":{\"method\":\"public_source\",\"legal_basis\":\"公共数据授权运营 authorised " \
    "operation of public data\",\"processing\":\"归集、核验、结构化 collected, verified, "   \
    "structured\",\"personal_information\":{\"contained\":false}}"

static const struct demo_product products[] = {
    {"sgcc",
     "{\"kind\":\"dataset\",\"title\":\"企业电力智慧画像 Enterprise Electricity Smart Portrait\","
     "\"description\":\"基于企业用电量、用电行为、电费缴纳与违约记录的企业经营画像与用电预测，"
     "帮助银行判断是否向企业发放贷款。Enterprise profiles from electricity consumption, usage "
     "behaviour, bill payment and projections, for bank lending decisions.\","
     "\"category\":\"energy\",\"use_cases\":[\"信贷评估 credit assessment\",\"贷后预警 "
     "post-loan early warning\"],\"update_frequency\":\"monthly\",\"classification\":"
     "\"corporate\",\"sensitivity\":\"general\",\"schema\":[{\"name\":\"uscc\",\"type\":"
     "\"string\"},{\"name\":\"month\",\"type\":\"date\"},{\"name\":\"kwh\",\"type\":\"decimal\","
     "\"unit\":\"kWh\"},{\"name\":\"payment\",\"type\":\"enum\",\"values\":[\"on_time\",\"late\","
     "\"default\"]}]," SRC_CORP "}",
     "{\"currency\":\"CNY\",\"cost\":{\"collection\":4000000,\"processing\":2500000,\"storage\":"
     "500000,\"labour\":3000000,\"margin_bp\":3000},\"income\":{\"benefit_per_period\":2000000,"
     "\"period\":\"month\",\"periods\":12,\"discount_rate_bp\":50}}"},
    {"csg",
     "{\"kind\":\"api\",\"title\":\"电力数据征信 Electricity Data-based Credit Inquiry\","
     "\"description\":\"分析企业用电状态、电费缴纳、用电量与违约记录，向银行等金融机构提供企业"
     "经营与信用调查。Analyses an enterprise's electricity use, bill payment and breaches of "
     "contract for banks' credit investigation.\",\"category\":\"credit_inquiry\",\"use_cases\":"
     "[\"贷前调查 pre-loan investigation\",\"高新技术企业认定 high-tech enterprise "
     "status\"],\"update_frequency\":\"daily\",\"classification\":\"corporate\",\"sensitivity\":"
     "\"general\"," SRC_CORP "}",
     NULL},
    {"ssx",
     "{\"kind\":\"dataset\",\"title\":\"上海智慧停车数据 Shanghai Smart Parking Data\","
     "\"description\":\"覆盖4,700余个停车库、89万个泊位的深度清洗停车数据：位置、容量、实时空余"
     "泊位与收费标准，供地图导航平台与停车库使用。Cleansed data on 4,700 garages and 890,000 "
     "parking spaces for mapping and navigation platforms.\",\"category\":\"transport\","
     "\"use_cases\":[\"地图导航 map navigation\",\"停车诱导 parking guidance\"],"
     "\"update_frequency\":\"realtime\",\"classification\":\"corporate\",\"sensitivity\":"
     "\"general\",\"schema\":[{\"name\":\"garage_id\",\"type\":\"string\"},{\"name\":\"spaces\","
     "\"type\":\"integer\"},{\"name\":\"free\",\"type\":\"integer\"},{\"name\":\"tariff\",\"type\":"
     "\"decimal\",\"unit\":\"CNY/h\"}]," SRC_CORP "}",
     NULL},
    {"ssx",
     "{\"kind\":\"api\",\"title\":\"停车场实时泊位接口 Real-time Parking Availability API\","
     "\"description\":\"上海公共停车场实时空余泊位推送接口，独家授权一家导航平台。Real-time free "
     "spaces of Shanghai's public car parks, licensed exclusively to one navigation platform.\","
     "\"category\":\"transport\",\"use_cases\":[\"实时导航 live navigation\"],"
     "\"update_frequency\":\"realtime\",\"classification\":\"corporate\",\"sensitivity\":"
     "\"general\"," SRC_CORP "}",
     NULL},
    {"vision",
     "{\"kind\":\"api\",\"title\":\"人脸比对 Face Comparison API\",\"description\":\"比对两张人脸"
     "图像并给出相似度分值，用于人证核验与用户身份验证；支持普通照片、身份证照片、证件照与网纹"
     "照片。Compares two faces and returns a similarity score for person-ID and user "
     "verification.\",\"category\":\"other\",\"use_cases\":[\"人证核验 person-ID "
     "verification\",\"远程开户 remote account opening\"],\"update_frequency\":\"realtime\","
     "\"classification\":\"personal\",\"sensitivity\":\"important\",\"source\":{\"method\":"
     "\"collected\",\"legal_basis\":\"个人信息保护法第13条 PIPL art. 13\",\"processing\":\"仅处理"
     "调用方当次上传的图像，不留存 images of each call only, not retained\","
     "\"personal_information\":{\"contained\":true,\"basis\":\"consent\",\"evidence\":\"调用方"
     "逐次取得单独同意并留存授权记录 separate consent per verification, records kept by the "
     "caller\"}}}",
     "{\"currency\":\"CNY\",\"cost\":{\"collection\":0,\"processing\":1200000,\"storage\":300000,"
     "\"labour\":900000,\"margin_bp\":4000}}"},
    {"speech",
     "{\"kind\":\"dataset\",\"title\":\"人车交互方言对话语音 Human-vehicle Dialogue Speech in "
     "Dialects\",\"description\":\"粤语、四川话与台湾口音普通话的人车交互对话录音与转写，用于"
     "大模型与语音识别训练；5,300名说话人，男女比例1:1，年龄20至50岁。Cantonese, Sichuanese and "
     "Taiwan-accented Mandarin in-car dialogues with transcripts from 5,300 speakers.\","
     "\"category\":\"ai_training_data\",\"use_cases\":[\"大模型训练 LLM training\",\"语音识别 "
     "speech recognition\"],\"update_frequency\":\"once\",\"classification\":\"personal\","
     "\"sensitivity\":\"general\",\"schema\":[{\"name\":\"clip\",\"type\":\"string\"},{\"name\":"
     "\"dialect\",\"type\":\"enum\",\"values\":[\"yue\",\"sichuan\",\"tw_mandarin\"]},{\"name\":"
     "\"transcript\",\"type\":\"string\"}],\"source\":{\"method\":\"collected\",\"legal_basis\":"
     "\"录音协议 recording agreements\",\"processing\":\"去标识化、转写 de-identified, "
     "transcribed\",\"personal_information\":{\"contained\":true,\"basis\":\"consent\","
     "\"evidence\":\"5,300份录音授权书 5,300 signed recording consents\"}}}",
     "{\"currency\":\"CNY\",\"cost\":{\"collection\":15000000,\"processing\":6000000,\"storage\":"
     "500000,\"labour\":8000000,\"margin_bp\":2000},\"income\":{\"benefit_per_period\":6000000,"
     "\"period\":\"year\",\"periods\":3,\"discount_rate_bp\":800}}"},
    {"patsnap",
     "{\"kind\":\"dataset\",\"title\":\"全球专利数据 Global Patent Data\",\"description\":\"经清洗"
     "与核验的全球专利数据：著录项目、法律状态、引证与同族，部分源自美国专利商标局与欧洲专利局。"
     "Cleansed and verified global patent data, partly from the USPTO and the EPO.\","
     "\"category\":\"patents\",\"use_cases\":[\"技术情报 technology intelligence\",\"专利检索 "
     "patent search\"],\"update_frequency\":\"weekly\",\"classification\":\"public\","
     "\"sensitivity\":\"general\",\"schema\":[{\"name\":\"publication\",\"type\":\"string\"},"
     "{\"name\":\"title\",\"type\":\"string\"},{\"name\":\"status\",\"type\":\"string\"}],"
     "\"source\":{\"method\":\"purchased\",\"legal_basis\":\"USPTO and EPO bulk data licences\","
     "\"processing\":\"清洗与核验 cleansed and verified\",\"personal_information\":{\"contained\":"
     "false}}}",
     NULL},
    {"bjfbd",
     "{\"kind\":\"api\",\"title\":\"企业严重违法失信信息 Dishonest Enterprises Committing Grave "
     "Illegalities\",\"description\":\"京云征信：列入严重违法失信名单的企业信息查询。Jingyun "
     "Credit Inquiry: enterprises on the list of grave illegalities.\",\"category\":"
     "\"credit_inquiry\",\"use_cases\":[\"融资担保 financing guarantees\"],\"update_frequency\":"
     "\"daily\",\"classification\":\"public\",\"sensitivity\":\"general\"," SRC_PUBLIC "}",
     NULL},
    {"bjfbd",
     "{\"kind\":\"api\",\"title\":\"欠税公告信息 Notice of Tax "
     "Arrears\",\"description\":\"京云征信："
     "税务机关公告的企业欠税信息查询。Jingyun Credit Inquiry: tax arrears notices.\",\"category\":"
     "\"credit_inquiry\",\"use_cases\":[\"贷前调查 pre-loan investigation\"],"
     "\"update_frequency\":\"daily\",\"classification\":\"public\",\"sensitivity\":"
     "\"general\"," SRC_PUBLIC "}",
     NULL},
    {"bjfbd",
     "{\"kind\":\"api\",\"title\":\"企业涉诉信息 Litigation Information of Enterprises\","
     "\"description\":\"京云征信：企业涉诉、开庭公告与法院公告查询。Jingyun Credit Inquiry: "
     "litigation, court sessions and court announcements.\",\"category\":\"credit_inquiry\","
     "\"use_cases\":[\"风险预警 risk warning\"],\"update_frequency\":\"daily\","
     "\"classification\":\"public\",\"sensitivity\":\"general\"," SRC_PUBLIC "}",
     NULL},
};
#define PRODUCTS (ARRAY_LEN(products))

#define TERMS_CN(purpose, days, delivery, exclusive)                                               \
    "\"terms\":{\"purpose\":\"" purpose "\",\"term_days\":" days ",\"territory\":[\"CN\"],"        \
    "\"redistribution\":\"none\",\"exclusive\":" exclusive ",\"delivery\":[" delivery "]}"

struct demo_listing {
    size_t product;    /* index in products */
    const char *body;  /* board, price and terms; the revision and buyers are added */
    const char *buyer; /* a private offer to this party, or NULL */
    int auction_days;  /* > 0: the price gets a deadline this many days ahead */
};

static const struct demo_listing listings[] = {
    {0,
     "{\"price\":{\"model\":\"negotiable\",\"currency\":\"CNY\",\"ask\":20000000,\"floor\":"
     "15000000}," TERMS_CN("企业信贷评估与贷后管理 credit assessment and monitoring", "365",
                           "\"api\",\"file\"", "false") "}",
     NULL, 0},
    {0,
     "{\"price\":{\"model\":\"fixed\",\"currency\":\"CNY\",\"amount\":18000000}," TERMS_CN(
         "上海分行对公信贷审批 corporate lending of the Shanghai branch", "365", "\"api\"",
         "false") "}",
     "icbc", 0},
    {1,
     "{\"price\":{\"model\":\"per_call\",\"currency\":\"CNY\",\"price_per_call\":500,"
     "\"monthly_minimum\":2000000}," TERMS_CN("贷前调查 pre-loan investigation", "365", "\"api\"",
                                              "false") "}",
     NULL, 0},
    {2,
     "{\"price\":{\"model\":\"fixed\",\"currency\":\"CNY\",\"amount\":12000000}," TERMS_CN(
         "地图导航与停车诱导 navigation and parking guidance", "365", "\"file\",\"api\"",
         "false") "}",
     NULL, 0},
    {3,
     "{\"price\":{\"model\":\"auction\",\"currency\":\"CNY\",\"reserve\":100000000}," TERMS_CN(
         "独家实时导航 exclusive live navigation", "730", "\"api\"", "true") "}",
     NULL, 30},
    {4,
     "{\"price\":{\"model\":\"subscription\",\"currency\":\"CNY\",\"period\":\"month\",\"tiers\":"
     "[{\"name\":\"基础版 basic\",\"qps\":5,\"price\":300000},{\"name\":\"标准版 standard\","
     "\"qps\":20,\"price\":800000},{\"name\":\"专业版 professional\",\"qps\":50,\"price\":"
     "1900000}]}," TERMS_CN("人证核验 person-ID verification", "365", "\"api\"", "false") "}",
     NULL, 0},
    {5,
     "{\"price\":{\"model\":\"negotiable\",\"currency\":\"CNY\",\"ask\":30000000}," TERMS_CN(
         "语音模型训练 speech model training", "1095", "\"file\",\"compute\"", "false") "}",
     NULL, 0},
    {6,
     "{\"board\":\"international\",\"price\":{\"model\":\"fixed\",\"currency\":\"USD\","
     "\"amount\":5000000}," TERMS_CN("技术情报与专利分析 technology intelligence", "365",
                                     "\"file\",\"api\"", "false") "}",
     NULL, 0},
    {7,
     "{\"price\":{\"model\":\"per_call\",\"currency\":\"CNY\",\"price_per_call\":200,"
     "\"monthly_minimum\":500000}," TERMS_CN("融资担保审查 financing guarantee review", "365",
                                             "\"api\"", "false") "}",
     NULL, 0},
    {8,
     "{\"price\":{\"model\":\"per_call\",\"currency\":\"CNY\",\"price_per_call\":200,"
     "\"monthly_minimum\":400000}," TERMS_CN("贷前调查 pre-loan investigation", "365", "\"api\"",
                                             "false") "}",
     NULL, 0},
    {9,
     "{\"price\":{\"model\":\"per_call\",\"currency\":\"CNY\",\"price_per_call\":300,"
     "\"monthly_minimum\":600000}," TERMS_CN("风险预警 risk warning", "365", "\"api\"",
                                             "false") "}",
     NULL, 0},
};

/* The exclusive licence the history auctions off to invited bidders. It is listed during the
 * load with a deadline DEMO_AUCTION_SECONDS ahead (an auction closes only at its deadline), so
 * that the load can take the bids, wait for the close and settle the winner's contract. */
static const struct demo_listing sold_auction = {
    5,
    "{\"price\":{\"model\":\"auction\",\"currency\":\"CNY\",\"reserve\":20000000}," TERMS_CN(
        "车载语音助手独家训练 exclusive training of in-car voice assistants", "1095", "\"file\"",
        "true") "}",
    NULL, 0};

struct demo_demand {
    const char *buyer;
    const char *text;
    const char *category;
    const char *purpose;
    int64_t budget; /* CNY fen */
    int early;      /* posted before the listings, so that a new listing matches it */
};

static const struct demo_demand demands[] = {
    {"dxm", "企业涉诉 欠税 失信信息 litigation tax arrears dishonest enterprises", "credit_inquiry",
     "小微企业信用风险评估 SME credit risk", 10000000, 1},
    {"nbcb", "企业用电数据 小微企业贷款审批 enterprise electricity data for loans", "energy",
     "小微企业信贷审批 SME loan approval", 30000000, 0},
    {"navi", "停车场实时泊位 real-time parking availability", "transport",
     "导航中的停车诱导 parking guidance in navigation", 50000000, 0},
    {"llm", "方言语音训练数据 粤语 四川话 dialect speech for model training", "ai_training_data",
     "方言语音大模型 dialect speech model", 40000000, 0},
};

/* ---- state ---- */

/* What the history leaves behind, counted as it is made. */
enum demo_history {
    HISTORY_SETTLED,       /* contracts settled: by order, negotiation and auction */
    HISTORY_SUBSCRIPTIONS, /* subscriptions running with a held period */
    HISTORY_DISPUTES,      /* disputes decided */
    HISTORY_NEGOTIATIONS,  /* negotiations left open */
    HISTORY_AUCTIONS,      /* auctions left open, with bids */
    HISTORY_N
};

struct demo_entity {
    char id[ID_MAX];
    char secret[CLI_API_KEY_BYTES_MAX];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char pk[CLI_KEY_B64_LEN + 1];
};

struct demo {
    struct cli *c;
    char *operator_key;
    struct demo_entity entity[PARTIES];
    char revision[PRODUCTS][ID_MAX];
    char listing[ARRAY_LEN(listings)][ID_MAX];
    char sold_auction[ID_MAX]; /* the auction of sold_auction, closed at the end of the load */
    int64_t sold_closes_ms;
    size_t counts[5];          /* entities, products, assessments, listings, demands */
    size_t history[HISTORY_N]; /* enum demo_history */
};

static size_t party_index(const char *key)
{
    for (size_t i = 0; i < PARTIES; i++) {
        if (strcmp(parties[i].key, key) == 0) {
            return i;
        }
    }
    ASSERT(0 && "unknown demo party");
    return 0;
}

/*
 * One request as `key` (NULL: anonymous); the answer must have status want. request() leaves
 * the answer in resp (caller releases); call() gives *out (if non-NULL) the parsed body (caller
 * decrefs). Each prints what failed and returns the exit code otherwise.
 */
static int request(struct demo *d, const char *key, const char *method, const char *path,
                   const json_t *body, long want, struct cli_response *resp)
{
    struct cli *c = d->c;
    char *saved = c->key;
    c->key = (char *)key;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__request(c, method, path, body, resp, &err);
    c->key = saved;
    int code = CLI_EXIT_OK;
    if (rc != ERR_OK || resp->status != want) {
        cli__error(c, "demo: %s %s answered %ld", method, path, resp->status);
        int json = c->json;
        c->json = 0;
        code = cli__response_check(c, rc, &err, resp);
        c->json = json;
        code = code == CLI_EXIT_OK ? CLI_EXIT_FAILURE : code;
    }
    return code;
}

static int call(struct demo *d, const char *key, const char *method, const char *path,
                const json_t *body, long want, json_t **out)
{
    struct cli_response resp;
    cli__response_init(&resp);
    int code = request(d, key, method, path, body, want, &resp);
    if (code == CLI_EXIT_OK && out != NULL) {
        *out = resp.json;
        resp.json = NULL;
    }
    cli__response_release(&resp);
    return code;
}

/* The string member key of a JSON object copied into dst (cap bytes); "" when absent. */
static void copy_str(char *dst, size_t cap, const json_t *o, const char *key)
{
    const char *v = cli__json_str(o, key);
    snprintf(dst, cap, "%s", v != NULL ? v : "");
}

/* ---- entities ---- */

/* A USCC for region: "91" (a company), the region, a random GB 11714 organisation code with
 * its check character, then the GB 32100 check character. */
static void uscc_make(const struct rng *rng, const char *region, char out[19])
{
    static const char charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    static const int org_weights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    unsigned char r[8];
    rng_fill(rng, r, sizeof(r));
    char code[19];
    snprintf(code, sizeof(code), "91%.6s", region);
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        code[8 + i] = (char)('0' + r[i] % 10);
        sum += (r[i] % 10) * org_weights[i];
    }
    int c9 = 11 - sum % 11;
    code[16] = c9 == 10 ? 'X' : (char)('0' + c9 % 11); /* 'X' is in the GB 32100 set too */
    sum = 0;
    int weight = 1;
    for (int i = 0; i < 17; i++) {
        sum += (int)(strchr(charset, code[i]) - charset) * weight;
        weight = weight * 3 % 31;
    }
    code[17] = charset[(31 - sum % 31) % 31];
    code[18] = '\0';
    memcpy(out, code, sizeof(code));
}

static int entity_create(struct demo *d, size_t i)
{
    const struct demo_party *p = &parties[i];
    struct demo_entity *e = &d->entity[i];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, e->sk);
    cli_key_encode(pk, e->pk);
    char uscc[19];
    uscc_make(d->c->rng, p->region, uscc);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "kind", p->kind,
                             "name", p->name, "uscc", uscc, "country", "CN", "public_key", e->pk,
                             "contact", "name", "演示联系人 Demo Contact", "email",
                             "demo@bourse.example", "phone", "+86 21 5555 0100");
    if (body != NULL && p->speciality != NULL) {
        json_object_set_new(body, "specialities", json_pack("[s]", p->speciality));
    }
    json_t *out = NULL;
    int code =
        body != NULL ? call(d, NULL, "POST", "/v1/entities", body, 201, &out) : CLI_EXIT_FAILURE;
    json_decref(body);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    copy_str(e->id, sizeof(e->id), out, "id");
    copy_str(e->secret, sizeof(e->secret), json_object_get(out, "api_key"), "secret");
    json_decref(out);
    char path[128];
    snprintf(path, sizeof(path), "/v1/entities/%s/review", e->id);
    body = json_pack("{s:s, s:s}", "decision", "verify", "reason", "演示数据 demo market");
    code = call(d, d->operator_key, "POST", path, body, 200, NULL);
    json_decref(body);
    static const char *const certs[] = {"data_provider", "trading", "cross_border"};
    snprintf(path, sizeof(path), "/v1/entities/%s/certificates", e->id);
    for (size_t k = 0; k < ARRAY_LEN(certs) && code == CLI_EXIT_OK; k++) {
        if ((p->certs & (1u << k)) == 0) {
            continue;
        }
        body = json_pack("{s:s}", "type", certs[k]);
        code = call(d, d->operator_key, "POST", path, body, 201, NULL);
        json_decref(body);
    }
    d->counts[0]++;
    return code;
}

/* ---- products ---- */

/* The firm's signed report for an assessment the server described (assessment.c's format). */
static int report_submit(struct demo *d, const json_t *assessment, size_t firm)
{
    char doc[256];
    int len = snprintf(doc, sizeof(doc), "演示评估报告 demo assessment report %s",
                       cli__json_str(assessment, "id"));
    unsigned char h[crypto_hash_sha256_BYTES];
    char sha[65];
    crypto_hash_sha256(h, (const unsigned char *)doc, (unsigned long long)len);
    sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
    json_t *r = json_pack("{s:s, s:[], s:{s:s, s:i}, s:[{s:s, s:s}], s:s, s:i, s:s}",
                          "assessment_id", cli__json_str(assessment, "id"), "conditions",
                          "document", "sha256", sha, "size", len, "findings", "severity", "info",
                          "text", "演示市场的评估 assessed for the demo market", "type",
                          "bourse/assessment-report", "v", 1, "verdict", "pass");
    static const char *const copied[] = {"content_hash", "firm_id", "kind", "product_id",
                                         "revision_id"};
    for (size_t i = 0; r != NULL && i < ARRAY_LEN(copied); i++) {
        json_object_set_new(r, copied[i], json_string(cli__json_str(assessment, copied[i])));
    }
    char *text = r != NULL ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(r);
    if (text == NULL) {
        cli__error(d->c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), d->entity[firm].sk);
    char sig_b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    json_t *body = json_pack("{s:s, s:s}", "report", text, "signature", sig_b64);
    mem_free(text);
    char path[128];
    snprintf(path, sizeof(path), "/v1/assessments/%s/report", cli__json_str(assessment, "id"));
    int code = call(d, d->entity[firm].secret, "POST", path, body, 200, NULL);
    json_decref(body);
    return code;
}

/* Requests an assessment of kind from the firm and has the firm submit its report. */
static int assess(struct demo *d, const char *provider_key, const char *revision, const char *kind,
                  const char *firm)
{
    size_t f = party_index(firm);
    json_t *body = json_pack("{s:s, s:s, s:s}", "revision_id", revision, "kind", kind, "firm_id",
                             d->entity[f].id);
    json_t *a = NULL;
    int code = call(d, provider_key, "POST", "/v1/assessments", body, 201, &a);
    json_decref(body);
    if (code == CLI_EXIT_OK) {
        code = report_submit(d, a, f);
        d->counts[2]++;
    }
    json_decref(a);
    return code;
}

static int product_create(struct demo *d, size_t i)
{
    const struct demo_product *p = &products[i];
    const struct demo_entity *provider = &d->entity[party_index(p->provider)];
    json_t *md = json_loads(p->metadata, JSON_REJECT_DUPLICATES, NULL);
    if (md == NULL) {
        cli__error(d->c, "demo: product %zu's metadata is not JSON", i);
        return CLI_EXIT_FAILURE;
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    char sha[65];
    crypto_hash_sha256(h, (const unsigned char *)p->metadata, strlen(p->metadata));
    sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
    json_object_set_new(md, "content_hash", json_string(sha));
    json_t *out = NULL;
    int code = call(d, provider->secret, "POST", "/v1/products", md, 201, &out);
    json_decref(md);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    const json_t *rev = json_object_get(out, "revision");
    copy_str(d->revision[i], ID_MAX, rev, "id");
    char product_id[ID_MAX];
    copy_str(product_id, sizeof(product_id), out, "id");
    int personal = strcmp(cli__json_str(rev, "classification"), "personal") == 0 ||
                   strcmp(cli__json_str(rev, "sensitivity"), "important") == 0;
    json_decref(out);
    d->counts[1]++;
    static const char *const rights[] = {"holding", "processing", "operation"};
    for (size_t k = 0; k < ARRAY_LEN(rights) && code == CLI_EXIT_OK; k++) {
        json_t *body = json_pack("{s:s, s:s}", "revision_id", d->revision[i], "right", rights[k]);
        code = call(d, d->operator_key, "POST", "/v1/rights", body, 201, NULL);
        json_decref(body);
    }
    if (code == CLI_EXIT_OK) {
        code = assess(d, provider->secret, d->revision[i], "compliance", "law");
    }
    if (code == CLI_EXIT_OK) {
        code = assess(d, provider->secret, d->revision[i], "quality", "quality");
    }
    if (code == CLI_EXIT_OK && personal) {
        code = assess(d, provider->secret, d->revision[i], "security", "security");
    }
    if (code == CLI_EXIT_OK && p->inputs != NULL) {
        json_t *in = json_loads(p->inputs, 0, NULL);
        char path[128];
        snprintf(path, sizeof(path), "/v1/products/%s/pricing-inputs", product_id);
        code =
            in != NULL ? call(d, provider->secret, "PUT", path, in, 200, NULL) : CLI_EXIT_FAILURE;
        json_decref(in);
    }
    return code;
}

/* ---- listings and demands ---- */

/* Lists l; deadline_ms (0: none) is an auction's; invited (count parties, or none) makes it a
 * private offer to them instead of l->buyer. The listing's id goes to id. */
static int listing_create(struct demo *d, const struct demo_listing *l, int64_t deadline_ms,
                          const char *const *invited, size_t count, char id[ID_MAX])
{
    const struct demo_product *p = &products[l->product];
    json_t *body = json_loads(l->body, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL) {
        cli__error(d->c, "demo: a listing is not JSON");
        return CLI_EXIT_FAILURE;
    }
    json_object_set_new(body, "revision_id", json_string(d->revision[l->product]));
    if (l->buyer != NULL) {
        json_object_set_new(body, "buyers", json_pack("[s]", d->entity[party_index(l->buyer)].id));
    }
    if (count > 0) {
        json_t *buyers = json_array();
        for (size_t i = 0; i < count; i++) {
            json_array_append_new(buyers, json_string(d->entity[party_index(invited[i])].id));
        }
        json_object_set_new(body, "buyers", buyers);
    }
    if (deadline_ms > 0) {
        char deadline[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(deadline_ms, deadline);
        json_object_set_new(json_object_get(body, "price"), "deadline", json_string(deadline));
    }
    json_t *out = NULL;
    int code = call(d, d->entity[party_index(p->provider)].secret, "POST", "/v1/listings", body,
                    201, &out);
    json_decref(body);
    copy_str(id, ID_MAX, out, "id");
    json_decref(out);
    d->counts[3] += code == CLI_EXIT_OK;
    return code;
}

static int demand_post(struct demo *d, const struct demo_demand *m, int64_t now_ms)
{
    char deadline[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(now_ms + 60 * DAY_MS, deadline);
    json_t *body = json_pack("{s:s, s:s, s:s, s:{s:I, s:s}, s:s}", "text", m->text, "category",
                             m->category, "purpose", m->purpose, "budget", "amount",
                             (json_int_t)m->budget, "currency", "CNY", "deadline", deadline);
    int code = body != NULL ? call(d, d->entity[party_index(m->buyer)].secret, "POST",
                                   "/v1/demands", body, 201, NULL)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    d->counts[4] += code == CLI_EXIT_OK;
    return code;
}

/* ---- history: deposits, trades of every kind, signatures, settlement, a dispute ---- */

/* Seconds from listing the auctioned licence to its deadline: its three bids go in at once,
 * the rest of the history takes a second or two, and the load then waits out the rest. Long
 * enough for a slow machine (or a sanitizer build) to place the bids first. */
#define DEMO_AUCTION_SECONDS 8
/* How long the load waits past that deadline for the auction to close before giving up. */
#define DEMO_CLOSE_WAIT_MS 30000
#define DEMO_POLL_NS 200000000L

/* The bank transfers the operator records before the buyers trade (CNY fen). */
static const struct demo_deposit {
    const char *buyer;
    int64_t amount;
    const char *reference;
} deposits[] = {
    {"icbc", 30000000, "ICBC-SH-20240418-0001"},  {"nbcb", 25000000, "NBCB-SZ-20240419-0002"},
    {"dxm", 10000000, "DXM-BJ-20240420-0003"},    {"navi", 20000000, "TUTU-SH-20240421-0004"},
    {"llm", 50000000, "XINGYU-BJ-20240422-0005"},
};

static void sha256_hex(const char *text, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, (unsigned long long)len);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

/* The fee schedule the contracts record is the newest version of "standard" in their currency
 * (core_contract_propose). A load beside an earlier market keeps the one in force; otherwise
 * the operator sets 2.5 % with a CNY 1 minimum. */
static int fee_schedule_ensure(struct demo *d)
{
    json_t *out = NULL;
    int code = call(d, d->operator_key, "GET", "/v1/fee-schedules?name=standard", NULL, 200, &out);
    const json_t *items = json_object_get(out, "items");
    int found = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *kind = cli__json_str(json_array_get(items, i), "kind");
        const char *currency = cli__json_str(json_array_get(items, i), "currency");
        found |= kind != NULL && strcmp(kind, "membership") != 0 &&
                 (currency == NULL || strcmp(currency, "CNY") == 0);
    }
    json_decref(out);
    if (code != CLI_EXIT_OK || found) {
        return code;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:i}", "name", "standard", "kind", "percentage",
                             "currency", "CNY", "rate_bp", 250, "minimum", 100);
    code = body != NULL ? call(d, d->operator_key, "POST", "/v1/fee-schedules", body, 201, NULL)
                        : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

static int deposit(struct demo *d, const struct demo_deposit *p)
{
    json_t *body =
        json_pack("{s:s, s:s, s:I, s:s}", "entity", d->entity[party_index(p->buyer)].id, "currency",
                  "CNY", "amount", (json_int_t)p->amount, "reference", p->reference);
    int code = body != NULL
                   ? call(d, d->operator_key, "POST", "/v1/ledger/deposits", body, 201, NULL)
                   : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

/* 1 when doc is the document of contract k (its hash) and names party p's public key. */
static int document_ours(struct demo *d, const json_t *k, const struct buf *doc, size_t p)
{
    char hex[65];
    sha256_hex(doc->data, doc->len, hex);
    const char *want = cli__json_str(k, "document_sha256");
    json_t *j = json_loadb(doc->data, doc->len, 0, NULL);
    const json_t *parties_j = json_object_get(j, "parties");
    char buyer[ID_MAX];
    copy_str(buyer, sizeof(buyer), k, "buyer_id");
    const char *role = strcmp(buyer, d->entity[p].id) == 0 ? "buyer" : "provider";
    const char *pk = cli__json_str(json_object_get(parties_j, role), "public_key");
    int ours =
        want != NULL && strcmp(want, hex) == 0 && pk != NULL && strcmp(pk, d->entity[p].pk) == 0;
    json_decref(j);
    if (!ours) {
        cli__error(d->c, "demo: the document of '%s' is not what party '%s' agreed to: not signing",
                   cli__json_str(k, "id"), parties[p].key);
    }
    return ours;
}

/*
 * Signs contract id as party p would with `bourse contract sign`: fetches the document's exact
 * bytes, checks them, signs them here with p's own key and posts only the signature. *out (if
 * non-NULL) gets the contract the server answers with.
 */
static int contract_sign_as(struct demo *d, const char *id, size_t p, json_t **out)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/contracts/%s", id);
    json_t *k = NULL;
    int code = call(d, d->entity[p].secret, "GET", path, NULL, 200, &k);
    struct cli_response doc;
    cli__response_init(&doc);
    snprintf(path, sizeof(path), "/v1/contracts/%s/document", id);
    if (code == CLI_EXIT_OK) {
        code = request(d, d->entity[p].secret, "GET", path, NULL, 200, &doc);
    }
    if (code == CLI_EXIT_OK && !document_ours(d, k, &doc.raw, p)) {
        code = CLI_EXIT_FAILURE;
    }
    json_decref(k);
    if (code == CLI_EXIT_OK) {
        unsigned char sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, NULL, (const unsigned char *)doc.raw.data, doc.raw.len,
                             d->entity[p].sk);
        char sig_b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig),
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *body = json_pack("{s:s}", "signature", sig_b64);
        snprintf(path, sizeof(path), "/v1/contracts/%s/signatures", id);
        code = body != NULL ? call(d, d->entity[p].secret, "POST", path, body, 201, out)
                            : CLI_EXIT_FAILURE;
        json_decref(body);
    }
    cli__response_release(&doc);
    return code;
}

/* Both parties sign, buyer first; the second signature activates the contract and holds the
 * buyer's price (one period of a subscription) in escrow. */
static int contract_activate_signed(struct demo *d, const char *id, size_t provider, size_t buyer)
{
    int code = contract_sign_as(d, id, buyer, NULL);
    json_t *k = NULL;
    if (code == CLI_EXIT_OK) {
        code = contract_sign_as(d, id, provider, &k);
    }
    const char *state = cli__json_str(k, "state");
    if (code == CLI_EXIT_OK && (state == NULL || strcmp(state, "active") != 0)) {
        cli__error(d->c, "demo: contract '%s' is %s after both signatures: %s", id,
                   state != NULL ? state : "(unknown)",
                   cli__json_str(json_object_get(k, "problem"), "detail"));
        code = CLI_EXIT_FAILURE;
    }
    json_decref(k);
    return code;
}

/* The provider records a delivery: the SHA-256 of what it handed over (here a description). */
static int contract_deliver_as(struct demo *d, const char *id, size_t provider, const char *what)
{
    char text[256];
    int len = snprintf(text, sizeof(text), "%s %s", what, id);
    char sha[65];
    sha256_hex(text, (size_t)len, sha);
    json_t *body = json_pack("{s:s}", "sha256", sha);
    char path[128];
    snprintf(path, sizeof(path), "/v1/contracts/%s/deliveries", id);
    int code = body != NULL ? call(d, d->entity[provider].secret, "POST", path, body, 201, NULL)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

/* A proposed single-payment contract to settled: signed, held, delivered, accepted. */
static int contract_complete(struct demo *d, const char *id, size_t provider, size_t buyer,
                             const char *what)
{
    int code = contract_activate_signed(d, id, provider, buyer);
    if (code == CLI_EXIT_OK) {
        code = contract_deliver_as(d, id, provider, what);
    }
    char path[128];
    snprintf(path, sizeof(path), "/v1/contracts/%s/accept", id);
    if (code == CLI_EXIT_OK) {
        code = call(d, d->entity[buyer].secret, "POST", path, NULL, 200, NULL);
    }
    d->history[HISTORY_SETTLED] += code == CLI_EXIT_OK;
    return code;
}

/* The buyer orders listing l (a subscription: tier for periods); the proposed contract's id
 * goes to ctr. */
static int order_place(struct demo *d, size_t l, const char *buyer, const char *tier, int periods,
                       char ctr[ID_MAX])
{
    json_t *body = tier == NULL ? json_pack("{s:s}", "listing_id", d->listing[l])
                                : json_pack("{s:s, s:s, s:i}", "listing_id", d->listing[l], "tier",
                                            tier, "periods", periods);
    json_t *out = NULL;
    int code = body != NULL ? call(d, d->entity[party_index(buyer)].secret, "POST", "/v1/orders",
                                   body, 201, &out)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    copy_str(ctr, ID_MAX, out, "contract_id");
    json_decref(out);
    return code;
}

/* ICBC Shanghai takes the enterprise electricity portrait State Grid offered it privately. */
static int history_fixed(struct demo *d)
{
    char ctr[ID_MAX];
    int code = order_place(d, 1, "icbc", NULL, 0, ctr);
    return code == CLI_EXIT_OK ? contract_complete(d, ctr, party_index("sgcc"), party_index("icbc"),
                                                   "企业电力画像接口凭据 api")
                               : code;
}

/* A step of negotiation id as party (offers, accept): out (if non-NULL) gets the answer. */
static int negotiation_step(struct demo *d, const char *id, const char *party, const char *step,
                            int64_t price, json_t **out)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/negotiations/%s/%s", id, step);
    json_t *body = price > 0 ? json_pack("{s:I}", "price", (json_int_t)price) : NULL;
    int code = call(d, d->entity[party_index(party)].secret, "POST", path, body, 200, out);
    json_decref(body);
    return code;
}

/* The buyer opens a negotiation on listing l with an offer; its id goes to id. */
static int negotiation_open(struct demo *d, size_t l, const char *buyer, int64_t price,
                            const char *purpose, char id[ID_MAX])
{
    json_t *body = json_pack("{s:s, s:I, s:{s:s}}", "listing_id", d->listing[l], "price",
                             (json_int_t)price, "terms", "purpose", purpose);
    json_t *out = NULL;
    int code = body != NULL ? call(d, d->entity[party_index(buyer)].secret, "POST",
                                   "/v1/negotiations", body, 201, &out)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    copy_str(id, ID_MAX, out, "id");
    json_decref(out);
    return code;
}

/* Bank of Ningbo haggles with State Grid over the portrait (ask CNY 200,000, floor 150,000):
 * 160,000, countered at 190,000, then 175,000, which State Grid accepts. */
static int history_negotiated(struct demo *d)
{
    char id[ID_MAX];
    int code = negotiation_open(d, 0, "nbcb", 16000000, "小微企业信贷审批 SME loan approval", id);
    if (code == CLI_EXIT_OK) {
        code = negotiation_step(d, id, "sgcc", "offers", 19000000, NULL);
    }
    if (code == CLI_EXIT_OK) {
        code = negotiation_step(d, id, "nbcb", "offers", 17500000, NULL);
    }
    json_t *out = NULL;
    if (code == CLI_EXIT_OK) {
        code = negotiation_step(d, id, "sgcc", "accept", 0, &out);
    }
    char ctr[ID_MAX];
    copy_str(ctr, sizeof(ctr), json_object_get(out, "order"), "contract_id");
    json_decref(out);
    return code == CLI_EXIT_OK ? contract_complete(d, ctr, party_index("sgcc"), party_index("nbcb"),
                                                   "企业用电画像月度数据 file")
                               : code;
}

/* Xingyu opens on the dialect speech data (ask CNY 300,000) at 240,000; the provider counters
 * at 285,000 and the negotiation waits for the buyer. */
static int history_open_negotiation(struct demo *d)
{
    char id[ID_MAX];
    int code =
        negotiation_open(d, 6, "llm", 24000000, "方言语音大模型训练 dialect speech model", id);
    if (code == CLI_EXIT_OK) {
        code = negotiation_step(d, id, "speech", "offers", 28500000, NULL);
    }
    d->history[HISTORY_NEGOTIATIONS] += code == CLI_EXIT_OK;
    return code;
}

/* Duxiaoman subscribes to the face-comparison API's standard tier (CNY 8,000 a month) for a
 * year: the first month is held in escrow and delivered; each month settles at its end (30
 * days), so no period has settled yet when the load ends. */
static int history_subscription(struct demo *d)
{
    char ctr[ID_MAX];
    int code = order_place(d, 5, "dxm", "标准版 standard", 12, ctr);
    size_t vision = party_index("vision");
    if (code == CLI_EXIT_OK) {
        code = contract_activate_signed(d, ctr, vision, party_index("dxm"));
    }
    if (code == CLI_EXIT_OK) {
        code = contract_deliver_as(d, ctr, vision, "人脸比对接口密钥与20 QPS配额 api key");
    }
    d->history[HISTORY_SUBSCRIPTIONS] += code == CLI_EXIT_OK;
    return code;
}

/* The arbitration centre decides a dispute: the provider gets 60 % of the price (the fee comes
 * out of it), the buyer the rest back. */
static int dispute_settle(struct demo *d, const char *dispute, int64_t price)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/disputes/%s/assign", dispute);
    size_t arb = party_index("arbitration");
    json_t *body = json_pack("{s:s}", "arbitrator", d->entity[arb].id);
    int code =
        body != NULL ? call(d, d->operator_key, "POST", path, body, 200, NULL) : CLI_EXIT_FAILURE;
    json_decref(body);
    snprintf(path, sizeof(path), "/v1/disputes/%s/decision", dispute);
    body = json_pack("{s:s, s:I, s:s}", "decision", "split", "provider_amount",
                     (json_int_t)(price / 10 * 6), "reason",
                     "约四成车库缺少收费标准，其余数据可用 about 40% of the garages lack tariffs; "
                     "the rest of the data is usable");
    if (code == CLI_EXIT_OK) {
        code = body != NULL ? call(d, d->entity[arb].secret, "POST", path, body, 200, NULL)
                            : CLI_EXIT_FAILURE;
    }
    json_decref(body);
    d->history[HISTORY_DISPUTES] += code == CLI_EXIT_OK;
    return code;
}

/* Tutu Navigation buys the smart parking data at its fixed price, finds the tariffs missing for
 * many garages and rejects the delivery; the dispute goes to arbitration and ends in a split. */
static int history_dispute(struct demo *d)
{
    char ctr[ID_MAX];
    int code = order_place(d, 3, "navi", NULL, 0, ctr);
    size_t ssx = party_index("ssx"), navi = party_index("navi");
    if (code == CLI_EXIT_OK) {
        code = contract_activate_signed(d, ctr, ssx, navi);
    }
    if (code == CLI_EXIT_OK) {
        code = contract_deliver_as(d, ctr, ssx, "上海停车场数据全量文件 file");
    }
    char path[128];
    snprintf(path, sizeof(path), "/v1/contracts/%s/reject", ctr);
    json_t *body =
        json_pack("{s:s}", "statement",
                  "1,900余个车库的收费标准为空 tariffs are empty for over 1,900 garages");
    json_t *dispute = NULL;
    if (code == CLI_EXIT_OK) {
        code = body != NULL ? call(d, d->entity[navi].secret, "POST", path, body, 201, &dispute)
                            : CLI_EXIT_FAILURE;
    }
    json_decref(body);
    char id[ID_MAX];
    copy_str(id, sizeof(id), dispute, "id");
    json_decref(dispute);
    /* The listed price: 12000000 fen (listings[3]). */
    return code == CLI_EXIT_OK ? dispute_settle(d, id, 12000000) : code;
}

/* Each (bidder, amount) in turn on auction id. */
static int bids_place(struct demo *d, const char *id, const char *const *bidders,
                      const int64_t *amounts, size_t count)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/auctions/%s/bids", id);
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < count && code == CLI_EXIT_OK; i++) {
        json_t *body = json_pack("{s:I}", "amount", (json_int_t)amounts[i]);
        code = body != NULL ? call(d, d->entity[party_index(bidders[i])].secret, "POST", path, body,
                                   201, NULL)
                            : CLI_EXIT_FAILURE;
        json_decref(body);
    }
    return code;
}

/* The provider opens the sealed-bid auction of listing_id; its id goes to id. */
static int auction_open(struct demo *d, const char *provider, const char *listing_id,
                        char id[ID_MAX])
{
    json_t *body = json_pack("{s:s}", "listing_id", listing_id);
    json_t *out = NULL;
    int code = body != NULL ? call(d, d->entity[party_index(provider)].secret, "POST",
                                   "/v1/auctions", body, 201, &out)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    copy_str(id, ID_MAX, out, "id");
    json_decref(out);
    return code;
}

/* The exclusive in-car training licence of the speech data goes to an invitation-only auction
 * (a private offer to three buyers: the product's public listing is its negotiable one) with a
 * deadline seconds away, and the three bid at once (reserve CNY 200,000). */
static int history_auction_open(struct demo *d)
{
    static const char *const bidders[] = {"navi", "llm", "dxm"};
    static const int64_t amounts[] = {23000000, 26000000, 24500000};
    d->sold_closes_ms = clock_now(&clock_system) + DEMO_AUCTION_SECONDS * 1000;
    char listing[ID_MAX];
    int code = listing_create(d, &sold_auction, d->sold_closes_ms, bidders, 3, listing);
    if (code == CLI_EXIT_OK) {
        code = auction_open(d, "speech", listing, d->sold_auction);
    }
    return code == CLI_EXIT_OK ? bids_place(d, d->sold_auction, bidders, amounts, 3) : code;
}

/* The exclusive real-time parking API stays at auction for its 30 days, with two bidders (the
 * navigation platform raising its own bid). */
static int history_auction_running(struct demo *d)
{
    char id[ID_MAX];
    int code = auction_open(d, "ssx", d->listing[4], id);
    static const char *const bidders[] = {"navi", "llm", "navi"};
    static const int64_t amounts[] = {105000000, 101000000, 112000000};
    if (code == CLI_EXIT_OK) {
        code = bids_place(d, id, bidders, amounts, 3);
    }
    d->history[HISTORY_AUCTIONS] += code == CLI_EXIT_OK;
    return code;
}

static void nap(void)
{
    struct timespec tick = {0, DEMO_POLL_NS};
    nanosleep(&tick, NULL);
}

/* Waits for the auctioned licence's deadline, closes the auction (unless the exchange's trading
 * clock did first) and leaves the auction's answer in *out. */
static int auction_wait_closed(struct demo *d, json_t **out)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/auctions/%s", d->sold_auction);
    char close_path[160];
    snprintf(close_path, sizeof(close_path), "%s/close", path);
    const char *key = d->entity[party_index("speech")].secret;
    while (clock_now(&clock_system) <= d->sold_closes_ms) {
        nap();
    }
    int code = CLI_EXIT_OK;
    while (code == CLI_EXIT_OK) {
        json_t *a = NULL;
        code = call(d, key, "GET", path, NULL, 200, &a);
        const char *status = cli__json_str(a, "status");
        if (code == CLI_EXIT_OK && status != NULL && strcmp(status, "closed") == 0) {
            *out = a;
            return CLI_EXIT_OK;
        }
        json_decref(a);
        if (clock_now(&clock_system) > d->sold_closes_ms + DEMO_CLOSE_WAIT_MS) {
            cli__error(d->c, "demo: auction '%s' did not close", d->sold_auction);
            return CLI_EXIT_FAILURE;
        }
        /* Either this close or the clock's wins; a 409 from the loser is expected. */
        struct errbuf err;
        errbuf_init(&err);
        struct cli_response resp;
        cli__response_init(&resp);
        char *saved = d->c->key;
        d->c->key = (char *)key;
        (void)cli__request(d->c, "POST", close_path, NULL, &resp, &err);
        d->c->key = saved;
        cli__response_release(&resp);
        nap();
    }
    return code;
}

/* The auction closes; the winner (the highest bid, paying the second) signs and settles. */
static int history_auction_settle(struct demo *d)
{
    json_t *a = NULL;
    int code = auction_wait_closed(d, &a);
    char winner[ID_MAX], order_id[ID_MAX], path[128];
    copy_str(winner, sizeof(winner), a, "winner_id");
    copy_str(order_id, sizeof(order_id), a, "order_id");
    snprintf(path, sizeof(path), "/v1/orders/%s", order_id);
    json_decref(a);
    json_t *order = NULL;
    if (code == CLI_EXIT_OK && winner[0] == '\0') {
        cli__error(d->c, "demo: auction '%s' closed without a winner", d->sold_auction);
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        code = call(d, d->operator_key, "GET", path, NULL, 200, &order);
    }
    char ctr[ID_MAX];
    copy_str(ctr, sizeof(ctr), order, "contract_id");
    json_decref(order);
    size_t buyer = PARTIES;
    for (size_t i = 0; i < PARTIES; i++) {
        buyer = strcmp(d->entity[i].id, winner) == 0 ? i : buyer;
    }
    if (code == CLI_EXIT_OK && buyer == PARTIES) {
        cli__error(d->c, "demo: the winner '%s' is not a demo party", winner);
        code = CLI_EXIT_FAILURE;
    }
    return code == CLI_EXIT_OK
               ? contract_complete(d, ctr, party_index("speech"), buyer, "方言语音语料全集 file")
               : code;
}

/*
 * The market's history, in an order that lets each step find what it needs: the fee schedule
 * and the buyers' deposits first, the short auction next (so that its deadline passes while
 * the other trades are made), and its close last.
 */
static int history_load(struct demo *d)
{
    int code = fee_schedule_ensure(d);
    for (size_t i = 0; i < ARRAY_LEN(deposits) && code == CLI_EXIT_OK; i++) {
        code = deposit(d, &deposits[i]);
    }
    static int (*const steps[])(struct demo *) = {
        history_auction_open,    history_fixed,          history_negotiated,
        history_subscription,    history_dispute,        history_open_negotiation,
        history_auction_running, history_auction_settle,
    };
    for (size_t i = 0; i < ARRAY_LEN(steps) && code == CLI_EXIT_OK; i++) {
        code = steps[i](d);
    }
    return code;
}

/* ---- the command ---- */

/* Refuses an exchange with more than its operator, unless forced. */
static int empty_check(struct demo *d, int force)
{
    json_t *out = NULL;
    int code = call(d, d->operator_key, "GET", "/v1/entities?limit=2", NULL, 200, &out);
    size_t n = json_array_size(json_object_get(out, "items"));
    json_decref(out);
    if (code == CLI_EXIT_OK && n > 1 && !force) {
        cli__error(d->c, "the exchange is not empty (it has entities besides the operator); "
                         "--force loads the demo market beside them");
        return CLI_EXIT_CONFLICT;
    }
    return code;
}

/* DIR/KEY.key: where party i's signing key file is when the keys went to DIR. */
static void signing_key_path(const char *dir, size_t i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.key", dir, parties[i].key);
}

/*
 * Makes dir (mode 0700) and writes each party's signing key there as `bourse key gen` would:
 * KEY.key (the seed, mode 0600) and KEY.key.pub, so that `bourse contract sign --signing-key
 * DIR/KEY.key` signs as that party after the load.
 */
static int signing_keys_save(struct demo *d, const char *dir)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = file_mkdirs(dir, 0700, &err);
    for (size_t i = 0; i < PARTIES && rc == ERR_OK; i++) {
        char path[CLI_VALUE_BYTES_MAX + 32];
        signing_key_path(dir, i, path, sizeof(path));
        unsigned char seed[crypto_sign_SEEDBYTES];
        char line[CLI_KEY_B64_LEN + 1];
        crypto_sign_ed25519_sk_to_seed(seed, d->entity[i].sk);
        cli_key_encode(seed, line);
        line[CLI_KEY_B64_LEN] = '\n';
        rc = cli__file_create(path, 0600, line, CLI_KEY_B64_LEN + 1, &err);
        sodium_memzero(seed, sizeof(seed));
        sodium_memzero(line, sizeof(line));
        char pub[CLI_KEY_B64_LEN + 2];
        snprintf(pub, sizeof(pub), "%s\n", d->entity[i].pk);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), ".pub");
        if (rc == ERR_OK) {
            rc = cli__file_create(path, 0644, pub, strlen(pub), &err);
        }
    }
    if (rc != ERR_OK) {
        cli__error(d->c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    return CLI_EXIT_OK;
}

/* Writes {"entities": [{"key", "name", "id", "api_key", "signing_key"?}]} to path (mode 0600);
 * signing_key is the key file's path when the signing keys went to signing_dir. */
static int keys_save(struct demo *d, const char *path, const char *signing_dir)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < PARTIES; i++) {
        char key_path[CLI_VALUE_BYTES_MAX + 32] = "";
        if (signing_dir != NULL) {
            signing_key_path(signing_dir, i, key_path, sizeof(key_path));
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s*}", "key", parties[i].key,
                                              "name", parties[i].name, "id", d->entity[i].id,
                                              "api_key", d->entity[i].secret, "signing_key",
                                              signing_dir != NULL ? key_path : NULL));
    }
    json_t *doc = json_pack("{s:o*}", "entities", list);
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = text != NULL ? cli__file_create(path, 0600, text, strlen(text), &err)
                               : err_set(&err, ERR_NOMEM, NULL, "out of memory");
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
    }
    mem_free(text);
    if (rc != ERR_OK) {
        cli__error(d->c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    return CLI_EXIT_OK;
}

static int demo_run(struct demo *d, const struct cli_args *a)
{
    int code = empty_check(d, cli__arg_given(a, "force"));
    const char *keys = cli__arg(a, "keys");
    const char *signing = cli__arg(a, "signing-keys");
    struct errbuf err;
    errbuf_init(&err);
    if (code == CLI_EXIT_OK && keys != NULL && cli__file_absent(keys, &err) != ERR_OK) {
        cli__error(d->c, "'%s' exists: the demo keys are written to a new file", keys);
        return CLI_EXIT_CONFLICT;
    }
    if (code == CLI_EXIT_OK && signing != NULL && cli__file_absent(signing, &err) != ERR_OK) {
        cli__error(d->c, "'%s' exists: the demo signing keys go to a new directory", signing);
        return CLI_EXIT_CONFLICT;
    }
    for (size_t i = 0; i < PARTIES && code == CLI_EXIT_OK; i++) {
        code = entity_create(d, i);
    }
    for (size_t i = 0; i < PRODUCTS && code == CLI_EXIT_OK; i++) {
        code = product_create(d, i);
    }
    int64_t now = clock_now(&clock_system);
    for (size_t i = 0; i < ARRAY_LEN(demands) && code == CLI_EXIT_OK; i++) {
        code = demands[i].early ? demand_post(d, &demands[i], now) : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < ARRAY_LEN(listings) && code == CLI_EXIT_OK; i++) {
        int64_t days = listings[i].auction_days;
        code = listing_create(d, &listings[i], days > 0 ? now + days * DAY_MS : 0, NULL, 0,
                              d->listing[i]);
    }
    for (size_t i = 0; i < ARRAY_LEN(demands) && code == CLI_EXIT_OK; i++) {
        code = !demands[i].early ? demand_post(d, &demands[i], now) : CLI_EXIT_OK;
    }
    /* The keys are saved before the history, so that a history that fails half way leaves
     * parties one can still act as. */
    if (code == CLI_EXIT_OK && signing != NULL) {
        code = signing_keys_save(d, signing);
    }
    if (code == CLI_EXIT_OK && keys != NULL) {
        code = keys_save(d, keys, signing);
    }
    if (code == CLI_EXIT_OK) {
        code = history_load(d);
    }
    return code;
}

static int demo_load(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    if (c->key == NULL) {
        cli__error(c, "demo load acts as the operator: give the operator's key (--key-file "
                      "DATA/operator.key)");
        return CLI_EXIT_USAGE;
    }
    struct demo *d = mem_calloc(1, sizeof(*d));
    if (d == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    d->c = c;
    d->operator_key = c->key;
    int code = demo_run(d, a);
    const size_t *h = d->history;
    if (code == CLI_EXIT_OK && c->json) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "entities",
                              (json_int_t)d->counts[0], "products", (json_int_t)d->counts[1],
                              "assessments", (json_int_t)d->counts[2], "listings",
                              (json_int_t)d->counts[3], "demands", (json_int_t)d->counts[4],
                              "history", "settled_contracts", (json_int_t)h[HISTORY_SETTLED],
                              "running_subscriptions", (json_int_t)h[HISTORY_SUBSCRIPTIONS],
                              "decided_disputes", (json_int_t)h[HISTORY_DISPUTES],
                              "open_negotiations", (json_int_t)h[HISTORY_NEGOTIATIONS],
                              "open_auctions", (json_int_t)h[HISTORY_AUCTIONS]);
        cli__json_print(c, o);
        json_decref(o);
    } else if (code == CLI_EXIT_OK) {
        fprintf(c->out,
                "demo market loaded: %zu entities, %zu products, %zu signed assessments, %zu "
                "listings, %zu demands\n",
                d->counts[0], d->counts[1], d->counts[2], d->counts[3], d->counts[4]);
        fprintf(c->out,
                "history: %zu settled contracts (by order, negotiation and auction), %zu "
                "subscription running, %zu dispute decided, %zu open negotiation, %zu open "
                "auction\n",
                h[HISTORY_SETTLED], h[HISTORY_SUBSCRIPTIONS], h[HISTORY_DISPUTES],
                h[HISTORY_NEGOTIATIONS], h[HISTORY_AUCTIONS]);
        fputs("try: bourse listing search --query 用电\n", c->out);
    }
    sodium_memzero(d, sizeof(*d));
    mem_free(d);
    return code;
}

static const struct cli_option demo_options[] = {
    {"force", 0, NULL, NULL},
    {"keys", CLI_OPT_VALUE, NULL, NULL},
    {"signing-keys", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__demo_commands[] = {
    {"demo", "load", demo_load, NULL, demo_options, NULL, 0,
     "[--force] [--keys FILE] [--signing-keys DIR]",
     "fill an empty exchange with a demo market and its trading history (operator); --keys "
     "saves the parties' api keys, --signing-keys their signing key files"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
