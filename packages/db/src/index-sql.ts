/**
 * The statement a migration adds an index with, safe where an operator built
 * it beforehand without blocking writes (`create index concurrently`, as
 * docs/operations.md advises for a large table):
 * - none of that name: built as `definition` says;
 * - one left invalid by a concurrent build that failed or was cancelled
 *   (PostgreSQL keeps it, maintains it on every write and reads nothing
 *   through it): dropped and built again;
 * - a valid one with another definition: the migration fails, naming both,
 *   rather than keep an index no query it was meant for can use.
 *
 * `definition` is written as PostgreSQL prints it (`pg_get_indexdef`, compared
 * without regard to case): `ON ledger.entries USING btree (account_id, created_at DESC)`.
 */
export function createIndexSql(schema: string, name: string, definition: string): string {
  const expected = `CREATE INDEX ${name} ${definition}`;
  return `
    do $index$
    declare
      found record;
    begin
      select x.indisvalid as valid, pg_get_indexdef(x.indexrelid) as definition into found
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
       where n.nspname = ${literal(schema)} and i.relname = ${literal(name)};
      if found is null then
        execute ${literal(expected)};
      elsif not found.valid then
        execute ${literal(`DROP INDEX ${schema}.${name}`)};
        execute ${literal(expected)};
      elsif lower(found.definition) <> lower(${literal(expected)}) then
        raise exception 'index %.% exists as "%"; this release needs "%": drop it (or build it again as needed) and migrate again',
          ${literal(schema)}, ${literal(name)}, found.definition, ${literal(expected)};
      end if;
    end
    $index$`;
}

/** A SQL string literal of a text written in the code (identifiers and definitions, never input). */
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;
