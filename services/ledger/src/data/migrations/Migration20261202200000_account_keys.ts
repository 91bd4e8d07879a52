import { Migration } from "@tollgate/db";

/**
 * The journal keyed by account, as PostgreSQL sharded by account (Citus) would
 * need it: `lines` carries its entry's `account_id` (backfilled), and the
 * primary keys of `entries` and `lines` start with it, the lines' foreign key
 * naming the entry by both.
 *
 * - `entries_pkey (account_id, entry_id)` replaces `entries_account_idx`
 *   (account_id, entry_id desc), which it serves as well, read backwards:
 *   ListEntries, receipts and usage, always for one account. Entry ids still
 *   come from one sequence, so an id alone stays unique.
 * - `entries_entry_idx (entry_id)`: lookups by an entry id alone — the
 *   support search (`search.ts`, "entry_id") and a receipt's entry
 *   (`receipts.ts`); in a sharded cluster these fan out to every shard.
 * - `lines_pkey (account_id, entry_id, line_no)`: an entry's lines, read with
 *   its account (the state store's reversal read and `entries()`, ListEntries
 *   and receipts through `lines(accountId, …)`, the pools a charge drew).
 *
 * The SQL functions metered work still calls, and earlier ledgers during a
 * rolling deploy, insert lines by position without `account_id` (it is the
 * last column): a trigger fills it from the entry for them. It fires only for
 * such rows (`when (new.account_id is null)`): the state store writes the
 * column and never calls it.
 */
export class Migration20261202200000_account_keys extends Migration {
  override name = "Migration20261202200000_account_keys";

  override up(): void {
    this.addSql(`alter table ledger.lines add column account_id text`);
    this.addSql(`update ledger.lines l set account_id = e.account_id from ledger.entries e where e.entry_id = l.entry_id`);
    this.addSql(`alter table ledger.lines alter column account_id set not null`);
    this.addSql(`
      create function ledger.line_account() returns trigger language plpgsql as $$
      begin
        select e.account_id into new.account_id from ledger.entries e where e.entry_id = new.entry_id;
        return new;
      end $$`);
    this.addSql(`create trigger lines_account before insert on ledger.lines for each row when (new.account_id is null) execute function ledger.line_account()`);

    this.addSql(`alter table ledger.lines drop constraint lines_entry_id_fkey`);
    this.addSql(`alter table ledger.lines drop constraint lines_pkey`);
    this.addSql(`alter table ledger.entries drop constraint entries_pkey`);
    this.addSql(`alter table ledger.entries add constraint entries_pkey primary key (account_id, entry_id)`);
    this.addSql(`drop index ledger.entries_account_idx`);
    this.addSql(`create index entries_entry_idx on ledger.entries (entry_id)`);
    this.addSql(`alter table ledger.lines add constraint lines_pkey primary key (account_id, entry_id, line_no)`);
    this.addSql(`alter table ledger.lines add constraint lines_entry_fkey foreign key (account_id, entry_id) references ledger.entries (account_id, entry_id)`);
  }

  override down(): void {
    this.addSql(`alter table ledger.lines drop constraint lines_entry_fkey`);
    this.addSql(`alter table ledger.lines drop constraint lines_pkey`);
    this.addSql(`drop index ledger.entries_entry_idx`);
    this.addSql(`alter table ledger.entries drop constraint entries_pkey`);
    this.addSql(`alter table ledger.entries add constraint entries_pkey primary key (entry_id)`);
    this.addSql(`create index entries_account_idx on ledger.entries (account_id, entry_id desc)`);
    this.addSql(`alter table ledger.lines add constraint lines_pkey primary key (entry_id, line_no)`);
    this.addSql(`alter table ledger.lines add constraint lines_entry_id_fkey foreign key (entry_id) references ledger.entries (entry_id)`);
    this.addSql(`drop trigger lines_account on ledger.lines`);
    this.addSql(`drop function ledger.line_account()`);
    this.addSql(`alter table ledger.lines drop column account_id`);
  }
}
