-- bench/ledger_pgbench.sql: the plain SQL implementation of a double-entry transfer that
-- bench/ledger.sh runs with pgbench beside bourse's ledger: one transaction per transfer
-- (synchronous_commit on), the debit refused past the balance, both counters moved, the
-- transfer recorded. Needs -D accounts=N and the schema bench/ledger.sh creates.
\set a random(1, :accounts)
\set b random(1, :accounts - 1)
\set b case when :b >= :a then :b + 1 else :b end
\set amount random(1, 100000)
BEGIN;
UPDATE accounts SET debits_posted = debits_posted + :amount
 WHERE id = :a AND credits_posted - debits_posted >= :amount;
UPDATE accounts SET credits_posted = credits_posted + :amount WHERE id = :b;
INSERT INTO transfers (debit_account, credit_account, amount, code) VALUES (:a, :b, :amount, 'bench.trade');
COMMIT;
