/**
 * The statement a migration adds an index with, safe where an operator built
 * it beforehand without blocking writes (`create index concurrently`, as
 * docs/operations.md advises for a large table):
 * - none of that name: built as `definition` says (blocking writes to the
 *   table while it builds);
 * - a valid one of this definition: kept;
 * - an invalid one (a concurrent build still running, or one that failed or
 *   was cancelled): the migration stops, asking for it to be finished or
 *   dropped and built again concurrently. Dropping and building it here
 *   would lock the table, reads included, for the whole build, which is
 *   what building it beforehand avoids; and would break a build running now;
 * - a valid one of another definition: the migration stops, naming both,
 *   rather than keep an index no query it was meant for can use.
 *
 * `definition` is written as PostgreSQL prints it (`pg_get_indexdef`):
 * `ON ledger.entries USING btree (account_id, created_at DESC)`.
 *
 * The SQL of landed migrations is made here: check-migrations records this
 * file with the call audit's migration, so it is never edited.
 */
export function createIndexSql(schema: string, name: string, definition: string): string {
  const expected = `CREATE INDEX ${name} ${definition}`;
  return `
    do $index$
    declare
      existing record;
    begin
      select x.indisvalid as valid, pg_get_indexdef(x.indexrelid) as definition into existing
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
       where n.nspname = ${literal(schema)} and i.relname = ${literal(name)};
      if existing is null then
        execute ${literal(expected)};
      elsif not existing.valid then
        raise exception 'index %.% is invalid (a concurrent build still running, or one that failed): let it finish, or drop it and build it again with create index concurrently, then migrate again',
          ${literal(schema)}, ${literal(name)};
      elsif existing.definition <> ${literal(expected)} then
        raise exception 'index %.% exists as "%"; this release needs "%": drop it (or build it again as needed) and migrate again',
          ${literal(schema)}, ${literal(name)}, existing.definition, ${literal(expected)};
      end if;
    end
    $index$`;
}

/** A SQL string literal of a text written in the code (identifiers and definitions, never input). */
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;
