/*
 * migrate.c: the numbered schema migrations, applied in order at open, each in its own
 * transaction together with its row in schema_migrations. The SQL is the portable subset
 * (BIGINT, TEXT, $n parameters) that SQLite and PostgreSQL both accept, so that one list
 * serves both backends. A migration, once released, is never edited: add a new one. A
 * migration that creates a table also adds it to copy_tables in copy.c, so that `bourse db
 * copy` moves it (store_test fails until it does).
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <string.h>

#include "util/banned.h"

/* The migration after whose SQL the backend's own search DDL runs (store_ops.search->ddl):
 * FTS5 tables and triggers on SQLite, pg_trgm and a GIN index on PostgreSQL. */
#define MIGRATION_SEARCH_DDL 5

/* Migration 12 on SQLite: each table rebuilt under a new name, filled, and renamed. */
#define LEDGER_ACCOUNT_COLS                                                                        \
    "id, owner, kind, currency, flags, debits_posted, credits_posted, debits_pending,"             \
    " credits_pending, last_seq, entries, created_ms, log_index"
#define LEDGER_TRANSFER_COLS                                                                       \
    "seq, id, kind, state, debit_account, credit_account, amount, currency, code, reference,"      \
    " pending_id, timeout_ms, caller, idempotency_key, request_hash, debit_posted_after,"          \
    " debit_pending_after, credit_posted_after, credit_pending_after, debit_prev_seq,"             \
    " credit_prev_seq, created_ms, log_index"
#define MIGRATION_12_SQLITE                                                                        \
    "CREATE TABLE ledger_accounts_12 ("                                                            \
    "  id TEXT PRIMARY KEY,"                                                                       \
    "  owner TEXT NOT NULL,"                                                                       \
    "  kind TEXT NOT NULL,"                                                                        \
    "  currency TEXT NOT NULL,"                                                                    \
    "  flags BIGINT NOT NULL,"                                                                     \
    "  debits_posted BIGINT NOT NULL,"                                                             \
    "  credits_posted BIGINT NOT NULL,"                                                            \
    "  debits_pending BIGINT NOT NULL,"                                                            \
    "  credits_pending BIGINT NOT NULL,"                                                           \
    "  last_seq BIGINT NOT NULL,"                                                                  \
    "  entries BIGINT NOT NULL,"                                                                   \
    "  created_ms BIGINT NOT NULL,"                                                                \
    "  log_index BIGINT NOT NULL) WITHOUT ROWID;"                                                  \
    "INSERT INTO ledger_accounts_12 (" LEDGER_ACCOUNT_COLS ") SELECT " LEDGER_ACCOUNT_COLS         \
    " FROM ledger_accounts ORDER BY id;"                                                           \
    "DROP TABLE ledger_accounts;"                                                                  \
    "ALTER TABLE ledger_accounts_12 RENAME TO ledger_accounts;"                                    \
    "CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner, currency, kind);"               \
    "CREATE TABLE ledger_transfers_12 ("                                                           \
    "  seq INTEGER PRIMARY KEY,"                                                                   \
    "  id TEXT NOT NULL UNIQUE,"                                                                   \
    "  kind TEXT NOT NULL,"                                                                        \
    "  state TEXT NOT NULL,"                                                                       \
    "  debit_account TEXT NOT NULL,"                                                               \
    "  credit_account TEXT NOT NULL,"                                                              \
    "  amount BIGINT NOT NULL,"                                                                    \
    "  currency TEXT NOT NULL,"                                                                    \
    "  code TEXT NOT NULL,"                                                                        \
    "  reference TEXT NOT NULL,"                                                                   \
    "  pending_id TEXT NOT NULL,"                                                                  \
    "  timeout_ms BIGINT NOT NULL,"                                                                \
    "  caller TEXT NOT NULL,"                                                                      \
    "  idempotency_key TEXT NOT NULL,"                                                             \
    "  request_hash TEXT NOT NULL,"                                                                \
    "  debit_posted_after BIGINT NOT NULL,"                                                        \
    "  debit_pending_after BIGINT NOT NULL,"                                                       \
    "  credit_posted_after BIGINT NOT NULL,"                                                       \
    "  credit_pending_after BIGINT NOT NULL,"                                                      \
    "  debit_prev_seq BIGINT NOT NULL,"                                                            \
    "  credit_prev_seq BIGINT NOT NULL,"                                                           \
    "  created_ms BIGINT NOT NULL,"                                                                \
    "  log_index BIGINT NOT NULL);"                                                                \
    "INSERT INTO ledger_transfers_12 (" LEDGER_TRANSFER_COLS ") SELECT " LEDGER_TRANSFER_COLS      \
    " FROM ledger_transfers ORDER BY seq;"                                                         \
    "DROP TABLE ledger_transfers;"                                                                 \
    "ALTER TABLE ledger_transfers_12 RENAME TO ledger_transfers;"                                  \
    "CREATE TABLE ledger_marks_12 ("                                                               \
    "  account_id TEXT NOT NULL,"                                                                  \
    "  created_ms BIGINT NOT NULL,"                                                                \
    "  seq BIGINT NOT NULL,"                                                                       \
    "  PRIMARY KEY (account_id, created_ms, seq)) WITHOUT ROWID;"                                  \
    "INSERT INTO ledger_marks_12 (account_id, created_ms, seq)"                                    \
    " SELECT account_id, created_ms, seq FROM ledger_marks ORDER BY account_id, created_ms, seq;"  \
    "DROP TABLE ledger_marks;"                                                                     \
    "ALTER TABLE ledger_marks_12 RENAME TO ledger_marks;"

const struct store_migration store__migrations[] = {
    {1, "CREATE TABLE meta ("
        "  name TEXT PRIMARY KEY,"
        "  value TEXT NOT NULL);"
        "CREATE TABLE entities ("
        "  id TEXT PRIMARY KEY,"
        "  kind TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  uscc TEXT NOT NULL,"
        "  country TEXT NOT NULL,"
        "  contact_name TEXT NOT NULL,"
        "  contact_email TEXT NOT NULL,"
        "  contact_phone TEXT NOT NULL,"
        "  public_key TEXT NOT NULL,"
        "  specialities BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX entities_created ON entities (created_ms, id);"
        "CREATE INDEX entities_uscc ON entities (uscc);"
        "CREATE TABLE certificates ("
        "  id TEXT PRIMARY KEY,"
        "  entity_id TEXT NOT NULL REFERENCES entities (id),"
        "  type TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  issued_ms BIGINT NOT NULL,"
        "  revoked_ms BIGINT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  revoke_log_index BIGINT NOT NULL);"
        "CREATE INDEX certificates_entity ON certificates (entity_id, issued_ms);"
        "CREATE TABLE reviews ("
        "  log_index BIGINT PRIMARY KEY,"
        "  entity_id TEXT NOT NULL REFERENCES entities (id),"
        "  decision TEXT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  at_ms BIGINT NOT NULL);"
        "CREATE INDEX reviews_entity ON reviews (entity_id, log_index);"
        "CREATE TABLE api_keys ("
        "  id TEXT PRIMARY KEY,"
        "  entity_id TEXT NOT NULL REFERENCES entities (id),"
        "  label TEXT NOT NULL,"
        "  secret_hash TEXT NOT NULL UNIQUE,"
        "  created_ms BIGINT NOT NULL,"
        "  revoked_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX api_keys_entity ON api_keys (entity_id);"
        "CREATE TABLE events ("
        "  seq BIGINT PRIMARY KEY,"
        "  type TEXT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  subject TEXT NOT NULL,"
        "  time_ms BIGINT NOT NULL,"
        "  leaf TEXT NOT NULL);"
        "CREATE INDEX events_subject ON events (subject, seq);"
        "CREATE TABLE idempotency ("
        "  principal TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  request_hash TEXT NOT NULL,"
        "  status BIGINT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  PRIMARY KEY (principal, key));"},
    {2, "CREATE TABLE tlog_hashes ("
        "  id BIGINT PRIMARY KEY,"
        "  hash TEXT NOT NULL);"
        "CREATE TABLE tlog_checkpoints ("
        "  tree_size BIGINT PRIMARY KEY,"
        "  root_hash TEXT NOT NULL,"
        "  note TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL);"},
    /* Reserved while the clearing, product and catalogue modules are written in parallel;
     * each is replaced by its real schema before it is first released. */
    /* 3: the clearing ledger (src/store/clearing.c, docs/decisions/0004-ledger.md). */
    {3, "CREATE TABLE ledger_accounts ("
        "  id TEXT PRIMARY KEY,"
        "  owner TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  flags BIGINT NOT NULL,"
        "  debits_posted BIGINT NOT NULL,"
        "  credits_posted BIGINT NOT NULL,"
        "  debits_pending BIGINT NOT NULL,"
        "  credits_pending BIGINT NOT NULL,"
        "  last_seq BIGINT NOT NULL,"
        "  entries BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner, currency, kind);"
        "CREATE TABLE ledger_transfers ("
        "  seq BIGINT PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  kind TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  debit_account TEXT NOT NULL,"
        "  credit_account TEXT NOT NULL,"
        "  amount BIGINT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  code TEXT NOT NULL,"
        "  reference TEXT NOT NULL,"
        "  pending_id TEXT NOT NULL,"
        "  timeout_ms BIGINT NOT NULL,"
        "  caller TEXT NOT NULL,"
        "  idempotency_key TEXT NOT NULL,"
        "  request_hash TEXT NOT NULL,"
        "  debit_posted_after BIGINT NOT NULL,"
        "  debit_pending_after BIGINT NOT NULL,"
        "  credit_posted_after BIGINT NOT NULL,"
        "  credit_pending_after BIGINT NOT NULL,"
        "  debit_prev_seq BIGINT NOT NULL,"
        "  credit_prev_seq BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE TABLE ledger_marks ("
        "  account_id TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  seq BIGINT NOT NULL,"
        "  PRIMARY KEY (account_id, created_ms, seq));"
        "CREATE TABLE ledger_timeouts ("
        "  timeout_ms BIGINT NOT NULL,"
        "  transfer_id TEXT NOT NULL,"
        "  PRIMARY KEY (timeout_ms, transfer_id));"
        "CREATE TABLE ledger_fee_schedules ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  rate_bp BIGINT NOT NULL,"
        "  minimum BIGINT NOT NULL,"
        "  cap BIGINT NOT NULL,"
        "  fixed_amount BIGINT NOT NULL,"
        "  period TEXT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  UNIQUE (name, version));"},
    /* Products, their immutable revisions, rights certificates with their history, the
     * listing policy's versions and assessments (src/store/products.c). */
    {4, "CREATE TABLE products ("
        "  id TEXT PRIMARY KEY,"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  kind TEXT NOT NULL,"
        "  latest_revision BIGINT NOT NULL,"
        "  latest_revision_id TEXT NOT NULL,"
        "  title TEXT NOT NULL,"
        "  category TEXT NOT NULL,"
        "  classification TEXT NOT NULL,"
        "  sensitivity TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX products_created ON products (created_ms, id);"
        "CREATE INDEX products_provider ON products (provider_id, created_ms);"
        "CREATE TABLE product_revisions ("
        "  id TEXT PRIMARY KEY,"
        "  product_id TEXT NOT NULL REFERENCES products (id),"
        "  number BIGINT NOT NULL,"
        "  provider_id TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  title TEXT NOT NULL,"
        "  category TEXT NOT NULL,"
        "  classification TEXT NOT NULL,"
        "  sensitivity TEXT NOT NULL,"
        "  supervised BIGINT NOT NULL,"
        "  content_hash TEXT NOT NULL,"
        "  metadata_hash TEXT NOT NULL,"
        "  metadata TEXT NOT NULL,"
        "  sample_format TEXT NOT NULL,"
        "  sample TEXT,"
        "  quality TEXT,"
        "  actor TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  UNIQUE (product_id, number));"
        "CREATE TABLE rights ("
        "  id TEXT PRIMARY KEY,"
        "  product_id TEXT NOT NULL REFERENCES products (id),"
        "  revision_id TEXT NOT NULL REFERENCES product_revisions (id),"
        "  content_hash TEXT NOT NULL,"
        "  right_type TEXT NOT NULL,"
        "  holder_id TEXT NOT NULL REFERENCES entities (id),"
        "  status TEXT NOT NULL,"
        "  pledgee_id TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  document TEXT NOT NULL,"
        "  signature TEXT NOT NULL,"
        "  issued_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  issue_log_index BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX rights_created ON rights (issued_ms, id);"
        "CREATE INDEX rights_revision ON rights (revision_id, right_type);"
        "CREATE INDEX rights_holder ON rights (holder_id);"
        "CREATE TABLE rights_history ("
        "  log_index BIGINT PRIMARY KEY,"
        "  rights_id TEXT NOT NULL REFERENCES rights (id),"
        "  action TEXT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  holder_id TEXT NOT NULL,"
        "  counterparty TEXT NOT NULL,"
        "  terms TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  at_ms BIGINT NOT NULL);"
        "CREATE INDEX rights_history_rights ON rights_history (rights_id, log_index);"
        "CREATE INDEX rights_history_counterparty ON rights_history (counterparty);"
        "CREATE TABLE listing_policies ("
        "  version BIGINT PRIMARY KEY,"
        "  rules TEXT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE TABLE assessments ("
        "  id TEXT PRIMARY KEY,"
        "  product_id TEXT NOT NULL REFERENCES products (id),"
        "  revision_id TEXT NOT NULL REFERENCES product_revisions (id),"
        "  content_hash TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  firm_id TEXT NOT NULL REFERENCES entities (id),"
        "  provider_id TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  verdict TEXT NOT NULL,"
        "  report TEXT,"
        "  signature TEXT NOT NULL,"
        "  document_sha256 TEXT NOT NULL,"
        "  document_size BIGINT NOT NULL,"
        "  requested_ms BIGINT NOT NULL,"
        "  submitted_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  submit_log_index BIGINT NOT NULL);"
        "CREATE INDEX assessments_created ON assessments (requested_ms, id);"
        "CREATE INDEX assessments_revision ON assessments (revision_id, kind);"
        "CREATE INDEX assessments_firm ON assessments (firm_id);"
        "CREATE INDEX assessments_product ON assessments (product_id);"},
    /* The catalogue: pricing inputs, listings with their buyers and search documents,
     * demands and their matches, the inbox (src/store/catalogue.c). The full-text index over
     * listing_docs is the backend's own DDL (store_ops.search, docs/decisions/0005-search.md). */
    {5, "CREATE TABLE pricing_inputs ("
        "  product_id TEXT PRIMARY KEY REFERENCES products (id),"
        "  version BIGINT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  has_cost BIGINT NOT NULL,"
        "  collection BIGINT NOT NULL,"
        "  processing BIGINT NOT NULL,"
        "  storage BIGINT NOT NULL,"
        "  labour BIGINT NOT NULL,"
        "  margin_bp BIGINT NOT NULL,"
        "  has_income BIGINT NOT NULL,"
        "  benefit_per_period BIGINT NOT NULL,"
        "  period TEXT NOT NULL,"
        "  periods BIGINT NOT NULL,"
        "  discount_rate_bp BIGINT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE TABLE listings ("
        "  id TEXT PRIMARY KEY,"
        "  product_id TEXT NOT NULL REFERENCES products (id),"
        "  revision_id TEXT NOT NULL REFERENCES product_revisions (id),"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  status TEXT NOT NULL,"
        "  board TEXT NOT NULL,"
        "  title TEXT NOT NULL,"
        "  category TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  classification TEXT NOT NULL,"
        "  price_model TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  price BIGINT,"
        "  price_json TEXT NOT NULL,"
        "  terms_json TEXT NOT NULL,"
        "  delivery BIGINT NOT NULL,"
        "  private_offer BIGINT NOT NULL,"
        "  ref_low BIGINT,"
        "  ref_high BIGINT,"
        "  ref_basis TEXT NOT NULL,"
        "  price_flag TEXT NOT NULL,"
        "  docid BIGINT NOT NULL UNIQUE,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  delisted_ms BIGINT NOT NULL,"
        "  delist_reason TEXT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX listings_product ON listings (product_id, board, status);"
        "CREATE INDEX listings_market ON listings (category, kind, currency, status, docid);"
        "CREATE INDEX listings_provider ON listings (provider_id, docid);"
        "CREATE TABLE listing_buyers ("
        "  listing_id TEXT NOT NULL REFERENCES listings (id),"
        "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
        "  PRIMARY KEY (listing_id, buyer_id));"
        "CREATE TABLE listing_docs ("
        "  docid BIGINT PRIMARY KEY,"
        "  listing_id TEXT NOT NULL UNIQUE REFERENCES listings (id),"
        "  title TEXT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  title_terms TEXT NOT NULL,"
        "  terms TEXT NOT NULL);"
        "CREATE TABLE demands ("
        "  id TEXT PRIMARY KEY,"
        "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
        "  status TEXT NOT NULL,"
        "  wanted TEXT NOT NULL,"
        "  category TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  purpose TEXT NOT NULL,"
        "  budget BIGINT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  deadline_ms BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  closed_ms BIGINT NOT NULL,"
        "  close_reason TEXT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX demands_created ON demands (created_ms, id);"
        "CREATE INDEX demands_open ON demands (category, status, created_ms);"
        "CREATE TABLE demand_matches ("
        "  demand_id TEXT NOT NULL REFERENCES demands (id),"
        "  listing_id TEXT NOT NULL REFERENCES listings (id),"
        "  score BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  PRIMARY KEY (demand_id, listing_id));"
        "CREATE TABLE notifications ("
        "  id TEXT PRIMARY KEY,"
        "  recipient_id TEXT NOT NULL REFERENCES entities (id),"
        "  type TEXT NOT NULL,"
        "  subject_id TEXT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  read_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX notifications_recipient ON notifications (recipient_id, created_ms, id);"},
    /* 6: contracts, their signatures, payment periods (each with its escrow hold), deliveries
     * and disputes: src/store/contracts.c. The *_due indexes serve the contract sweep. */
    {6, "CREATE TABLE contracts ("
        "  id TEXT PRIMARY KEY,"
        "  listing_id TEXT NOT NULL REFERENCES listings (id),"
        "  product_id TEXT NOT NULL,"
        "  revision_id TEXT NOT NULL,"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
        "  origin TEXT NOT NULL,"
        "  origin_id TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  plan TEXT NOT NULL,"
        "  price BIGINT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  periods BIGINT NOT NULL,"
        "  period_days BIGINT NOT NULL,"
        "  fee_schedule_id TEXT NOT NULL,"
        "  delivery TEXT NOT NULL,"
        "  acceptance_ms BIGINT NOT NULL,"
        "  document TEXT NOT NULL,"
        "  document_sha256 TEXT NOT NULL,"
        "  countersignature TEXT NOT NULL,"
        "  signing_deadline_ms BIGINT NOT NULL,"
        "  activated_ms BIGINT NOT NULL,"
        "  period BIGINT NOT NULL,"
        "  period_end_ms BIGINT NOT NULL,"
        "  accept_deadline_ms BIGINT NOT NULL,"
        "  note TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX contracts_created ON contracts (created_ms, id);"
        "CREATE INDEX contracts_buyer ON contracts (buyer_id, created_ms, id);"
        "CREATE INDEX contracts_provider ON contracts (provider_id, created_ms, id);"
        "CREATE INDEX contracts_signing_due ON contracts (state, signing_deadline_ms);"
        "CREATE INDEX contracts_accept_due ON contracts (state, accept_deadline_ms);"
        "CREATE INDEX contracts_period_due ON contracts (state, period_end_ms);"
        "CREATE TABLE contract_signatures ("
        "  contract_id TEXT NOT NULL REFERENCES contracts (id),"
        "  role TEXT NOT NULL,"
        "  party_id TEXT NOT NULL REFERENCES entities (id),"
        "  public_key TEXT NOT NULL,"
        "  signature TEXT NOT NULL,"
        "  signed_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  PRIMARY KEY (contract_id, role));"
        "CREATE TABLE contract_periods ("
        "  contract_id TEXT NOT NULL REFERENCES contracts (id),"
        "  period BIGINT NOT NULL,"
        "  hold_id TEXT NOT NULL,"
        "  amount BIGINT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  post_id TEXT NOT NULL,"
        "  starts_ms BIGINT NOT NULL,"
        "  ends_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  PRIMARY KEY (contract_id, period));"
        "CREATE TABLE deliveries ("
        "  id TEXT PRIMARY KEY,"
        "  contract_id TEXT NOT NULL REFERENCES contracts (id),"
        "  period BIGINT NOT NULL,"
        "  sha256 TEXT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  delivered_ms BIGINT NOT NULL,"
        "  decided_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX deliveries_contract ON deliveries (contract_id, period, delivered_ms);"
        "CREATE TABLE disputes ("
        "  id TEXT PRIMARY KEY,"
        "  contract_id TEXT NOT NULL REFERENCES contracts (id),"
        "  period BIGINT NOT NULL,"
        "  opened_by TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  statement TEXT NOT NULL,"
        "  evidence TEXT NOT NULL,"
        "  arbitrator_id TEXT NOT NULL,"
        "  decision TEXT NOT NULL,"
        "  provider_amount BIGINT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  opened_ms BIGINT NOT NULL,"
        "  assigned_ms BIGINT NOT NULL,"
        "  decided_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX disputes_contract ON disputes (contract_id, status);"},
    /* 7: delivery (uploads and their chunks, objects, download tokens): src/store/delivery.c.
     * Only metadata: the bytes are encrypted files under the data directory (src/delivery/). */
    {7, "CREATE TABLE uploads ("
        "  id TEXT PRIMARY KEY,"
        "  product_id TEXT NOT NULL REFERENCES products (id),"
        "  revision_id TEXT NOT NULL REFERENCES product_revisions (id),"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  name TEXT NOT NULL,"
        "  size BIGINT NOT NULL,"
        "  sha256 TEXT NOT NULL,"
        "  chunk_size BIGINT NOT NULL,"
        "  chunk_count BIGINT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  wrapped_key TEXT NOT NULL,"
        "  object_id TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX uploads_resume ON uploads (provider_id, sha256, status, created_ms);"
        "CREATE TABLE upload_chunks ("
        "  upload_id TEXT NOT NULL REFERENCES uploads (id),"
        "  n BIGINT NOT NULL,"
        "  size BIGINT NOT NULL,"
        "  sha256 TEXT NOT NULL,"
        "  received_ms BIGINT NOT NULL,"
        "  PRIMARY KEY (upload_id, n));"
        "CREATE TABLE objects ("
        "  id TEXT PRIMARY KEY,"
        "  product_id TEXT NOT NULL REFERENCES products (id),"
        "  revision_id TEXT NOT NULL REFERENCES product_revisions (id),"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  upload_id TEXT NOT NULL REFERENCES uploads (id),"
        "  name TEXT NOT NULL,"
        "  size BIGINT NOT NULL,"
        "  sha256 TEXT NOT NULL,"
        "  format TEXT NOT NULL,"
        "  row_count BIGINT NOT NULL,"
        "  blob_name TEXT NOT NULL,"
        "  wrapped_key TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX objects_blob ON objects (blob_name, created_ms);"
        "CREATE INDEX objects_revision ON objects (revision_id, created_ms);"
        "CREATE TABLE download_tokens ("
        "  id TEXT PRIMARY KEY,"
        "  secret_hash TEXT NOT NULL UNIQUE,"
        "  contract_id TEXT NOT NULL,"
        "  revision_id TEXT NOT NULL REFERENCES product_revisions (id),"
        "  object_id TEXT NOT NULL REFERENCES objects (id),"
        "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
        "  created_ms BIGINT NOT NULL,"
        "  expires_ms BIGINT NOT NULL,"
        "  revoked_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX download_tokens_contract ON download_tokens (contract_id, created_ms);"},
    /* 8: rate limits across nodes and idempotency retention (src/store/limits.c,
     * docs/decisions/0006-rate-limits.md). */
    {8, "CREATE TABLE rate_usage ("
        "  node TEXT NOT NULL,"
        "  round BIGINT NOT NULL,"
        "  part BIGINT NOT NULL,"
        "  at_ms BIGINT NOT NULL,"
        "  counts TEXT NOT NULL,"
        "  PRIMARY KEY (node, round, part));"
        "CREATE INDEX rate_usage_at ON rate_usage (at_ms);"
        "CREATE INDEX idempotency_created ON idempotency (created_ms);"},
    /* 9: orders, negotiations, auctions and bids (src/store/trading.c). exclusive_key is the
     * listing's id while an exclusive order holds it, else NULL: the unique index lets one
     * order at a time hold a listing's exclusivity. */
    {9, "CREATE TABLE orders ("
        "  id TEXT PRIMARY KEY,"
        "  listing_id TEXT NOT NULL REFERENCES listings (id),"
        "  product_id TEXT NOT NULL,"
        "  revision_id TEXT NOT NULL,"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
        "  source TEXT NOT NULL,"
        "  source_id TEXT NOT NULL,"
        "  price_model TEXT NOT NULL,"
        "  tier TEXT NOT NULL,"
        "  periods BIGINT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  unit_price BIGINT NOT NULL,"
        "  price BIGINT NOT NULL,"
        "  terms TEXT NOT NULL,"
        "  exclusive_key TEXT UNIQUE,"
        "  contract_id TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX orders_buyer ON orders (buyer_id, created_ms, id);"
        "CREATE INDEX orders_provider ON orders (provider_id, created_ms, id);"
        "CREATE INDEX orders_created ON orders (created_ms, id);"
        "CREATE TABLE negotiations ("
        "  id TEXT PRIMARY KEY,"
        "  listing_id TEXT NOT NULL REFERENCES listings (id),"
        "  product_id TEXT NOT NULL,"
        "  revision_id TEXT NOT NULL,"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
        "  status TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  price BIGINT NOT NULL,"
        "  terms TEXT NOT NULL,"
        "  last_by TEXT NOT NULL,"
        "  offers BIGINT NOT NULL,"
        "  expires_ms BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  updated_ms BIGINT NOT NULL,"
        "  closed_ms BIGINT NOT NULL,"
        "  closed_by TEXT NOT NULL,"
        "  order_id TEXT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX negotiations_buyer ON negotiations (buyer_id, created_ms, id);"
        "CREATE INDEX negotiations_provider ON negotiations (provider_id, created_ms, id);"
        "CREATE INDEX negotiations_due ON negotiations (status, expires_ms);"
        "CREATE TABLE negotiation_offers ("
        "  negotiation_id TEXT NOT NULL REFERENCES negotiations (id),"
        "  seq BIGINT NOT NULL,"
        "  by_id TEXT NOT NULL,"
        "  price BIGINT NOT NULL,"
        "  terms TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL,"
        "  PRIMARY KEY (negotiation_id, seq));"
        "CREATE TABLE auctions ("
        "  id TEXT PRIMARY KEY,"
        "  listing_id TEXT NOT NULL UNIQUE REFERENCES listings (id),"
        "  product_id TEXT NOT NULL,"
        "  revision_id TEXT NOT NULL,"
        "  provider_id TEXT NOT NULL REFERENCES entities (id),"
        "  status TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  reserve BIGINT NOT NULL,"
        "  closes_ms BIGINT NOT NULL,"
        "  opened_by TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  closed_ms BIGINT NOT NULL,"
        "  closed_by TEXT NOT NULL,"
        "  winner_id TEXT NOT NULL,"
        "  winning_bid_id TEXT NOT NULL,"
        "  clearing_price BIGINT NOT NULL,"
        "  bid_count BIGINT NOT NULL,"
        "  order_id TEXT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX auctions_due ON auctions (status, closes_ms);"
        "CREATE TABLE bids ("
        "  id TEXT PRIMARY KEY,"
        "  auction_id TEXT NOT NULL REFERENCES auctions (id),"
        "  bidder_id TEXT NOT NULL REFERENCES entities (id),"
        "  amount BIGINT NOT NULL,"
        "  salt TEXT NOT NULL,"
        "  commitment TEXT NOT NULL,"
        "  created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "CREATE INDEX bids_auction ON bids (auction_id, log_index);"},
    /* 10: the catalogue search's covering index (search_sqlite.c, docs/decisions/0005-search.md):
     * a query for a common term reads 2,000 candidates' filter and facet columns by docid, from
     * this index alone instead of the unique docid index and then the listing row. */
    {10, "CREATE INDEX listings_search ON listings (docid, status, private_offer, provider_id,"
         " category, kind, delivery, classification, board, currency, price, id);"},
    /* 11: fingerprinted delivery (src/store/fingerprints.c, docs/fingerprinting.md): declared
     * tolerances of objects and every buyer's copy, found by contract or by SHA-256. */
    {11, "CREATE TABLE object_fingerprints ("
         "  object_id TEXT PRIMARY KEY REFERENCES objects (id),"
         "  declaration TEXT NOT NULL,"
         "  code_length BIGINT NOT NULL,"
         "  mark_per_mille BIGINT NOT NULL,"
         "  cutoff TEXT NOT NULL,"
         "  admissible_cells BIGINT NOT NULL,"
         "  actor TEXT NOT NULL,"
         "  declared_ms BIGINT NOT NULL,"
         "  log_index BIGINT NOT NULL);"
         "CREATE TABLE buyer_copies ("
         "  id TEXT PRIMARY KEY,"
         "  contract_id TEXT NOT NULL,"
         "  object_id TEXT NOT NULL REFERENCES objects (id),"
         "  buyer_id TEXT NOT NULL REFERENCES entities (id),"
         "  fingerprinted BIGINT NOT NULL,"
         "  size BIGINT NOT NULL,"
         "  sha256 TEXT NOT NULL,"
         "  format TEXT NOT NULL,"
         "  blob_name TEXT NOT NULL,"
         "  wrapped_key TEXT NOT NULL,"
         "  created_ms BIGINT NOT NULL,"
         "  log_index BIGINT NOT NULL,"
         "  UNIQUE (contract_id, object_id));"
         "CREATE INDEX buyer_copies_sha ON buyer_copies (sha256);"
         "CREATE INDEX buyer_copies_object ON buyer_copies (object_id, created_ms);"},
    /* 12: the ledger's hot tables keyed by their primary key alone on SQLite
     * (docs/decisions/0004-ledger.md, Measurements). A rowid table with a TEXT or BIGINT
     * primary key is two b-trees, the rows and an index from the key to the rowid: every
     * account read or update descended both, every transfer insert wrote three. Accounts and
     * marks become WITHOUT ROWID tables, and a transfer's seq becomes the rowid (only the type
     * name INTEGER makes it one). Same names, columns and constraints; PostgreSQL's tables are
     * already one heap with one primary key index, so it has nothing to change. */
    {12, NULL},
    /* 13: each listing's search document length in tokens, as each SQLite FTS5 index counts
     * it, so that the candidate query reads it from the listing's index entry rather than from
     * FTS5's %_docsize table (search_sqlite.c, docs/decisions/0005-search.md). SQLite fills
     * it (a trigger on listing_docs) and indexes it; PostgreSQL ranks without document
     * lengths, so its column stays 0 and only travels with `bourse db copy`. */
    {13, "ALTER TABLE listings ADD COLUMN search_lengths BIGINT NOT NULL DEFAULT 0;"},
};

const size_t store__migrations_count = ARRAY_LEN(store__migrations);

/* DDL that only one backend has, run after a migration's portable SQL (SQLite's WITHOUT ROWID
 * tables, ...). The tables it leaves have the same names and columns on every backend, so
 * that `bourse db copy` moves them. */
static const struct {
    int version;
    const char *sqlite_sql;
    const char *postgres_sql;
} backend_migrations[] = {
    {12, MIGRATION_12_SQLITE, NULL},
    {13, store__search_sqlite_migration_13, NULL},
};

const char *store__backend_ddl(const struct store *s, int version)
{
    for (size_t i = 0; i < ARRAY_LEN(backend_migrations); i++) {
        if (backend_migrations[i].version == version) {
            return s->ops == &store_sqlite_ops ? backend_migrations[i].sqlite_sql
                                               : backend_migrations[i].postgres_sql;
        }
    }
    return NULL;
}

int store_schema_version_latest(void)
{
    return store__migrations[store__migrations_count - 1].version;
}

static enum err version_row(void *ctx, const struct store_value *cols, size_t ncols,
                            struct errbuf *err)
{
    (void)err;
    ASSERT(ncols == 1);
    int *version = ctx;
    *version = cols[0].type == STORE_INT ? (int)cols[0].i : 0;
    return ERR_OK;
}

enum err store_schema_version(struct store *s, int *version, struct errbuf *err)
{
    *version = 0;
    return store_query(s, "SELECT MAX(version) FROM schema_migrations", NULL, 0, version_row,
                       version, NULL, err);
}

/* Applies m unless it is there already. The version is read again inside the write
 * transaction because servers sharing a PostgreSQL database may start at the same time; the
 * writer lock makes the second wait for the first and then see its migration. */
static enum err apply_one(struct store *s, const struct store_migration *m, int *applied,
                          struct errbuf *err)
{
    *applied = 0;
    enum err rc = store_tx_begin(s, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int version = 0;
    rc = store_schema_version(s, &version, err);
    if (rc == ERR_OK && version >= m->version) {
        store_tx_rollback(s);
        return ERR_OK;
    }
    if (rc == ERR_OK && m->sql != NULL) {
        rc = store_exec(s, m->sql, err);
    }
    const char *own = store__backend_ddl(s, m->version);
    if (rc == ERR_OK && own != NULL) {
        rc = store_exec(s, own, err);
    }
    if (rc == ERR_OK && m->version == MIGRATION_SEARCH_DDL) {
        ASSERT(s->ops->search != NULL);
        rc = store_exec(s, s->ops->search->ddl, err);
    }
    if (rc == ERR_OK) {
        struct store_value p[1] = {store_int(m->version)};
        rc = store_query(s, "INSERT INTO schema_migrations (version) VALUES ($1)", p, 1, NULL, NULL,
                         NULL, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(s);
        return rc;
    }
    rc = store_tx_commit(s, err);
    *applied = rc == ERR_OK;
    return rc;
}

/* CREATE TABLE IF NOT EXISTS races with itself on PostgreSQL; inside a write transaction it
 * is serialised like every other write. */
static enum err create_version_table(struct store *s, struct errbuf *err)
{
    enum err rc = store_tx_begin(s, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_exec(s, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)",
                    err);
    if (rc != ERR_OK) {
        store_tx_rollback(s);
        return rc;
    }
    return store_tx_commit(s, err);
}

enum err store_migrate(struct store *s, int *applied_count, struct errbuf *err)
{
    ASSERT(s != NULL);
    ASSERT(store_tx_depth(s) == 0);
    if (applied_count != NULL) {
        *applied_count = 0;
    }
    for (size_t i = 1; i < store__migrations_count; i++) {
        ASSERT(store__migrations[i].version == store__migrations[i - 1].version + 1);
    }
    enum err rc = create_version_table(s, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int version = 0;
    rc = store_schema_version(s, &version, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (version > store_schema_version_latest()) {
        return err_set(err, ERR_CORRUPT, "",
                       "database schema version %d is newer than this binary's %d", version,
                       store_schema_version_latest());
    }
    for (size_t i = 0; i < store__migrations_count; i++) {
        if (store__migrations[i].version <= version) {
            continue;
        }
        int applied = 0;
        rc = apply_one(s, &store__migrations[i], &applied, err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (applied) {
            log_msg(LOG_INFO, "store: applied migration %d", store__migrations[i].version);
        }
        if (applied && applied_count != NULL) {
            (*applied_count)++;
        }
    }
    return ERR_OK;
}
