import pg from "pg";

export interface InvariantReport {
  ok: boolean;
  violations: string[];
}

/**
 * The ledger's invariants, checked in SQL after a workload: journal sums equal
 * pool balances, every entry balances, no balance below its negative limit,
 * held amounts equal what open holds still reserve, every hold in a known
 * state, and one charge entry per charge idempotency key.
 */
export async function checkInvariants(databaseUrl: string): Promise<InvariantReport> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const violations: string[] = [];
  const count = async (label: string, query: string) => {
    const { rows } = await client.query(query);
    const n = Number(rows[0]?.n ?? 0);
    if (n > 0) violations.push(`${label}: ${n}`);
  };
  try {
    await count(
      "pools whose balance differs from their journal",
      `select count(*) as n from ledger.pools p
         left join (select pool_id, sum(amount_micros) as total from ledger.lines group by pool_id) l using (pool_id)
        where p.balance_micros <> coalesce(l.total, 0)`,
    );
    await count("entries whose lines do not sum to zero", `select count(*) as n from (select entry_id from ledger.lines group by entry_id having sum(amount_micros) <> 0) x`);
    await count(
      "balances below their negative limit",
      `select count(*) as n from ledger.balances b
         join (select account_id, unit, sum(balance_micros) as total from ledger.pools where not closed group by account_id, unit) p using (account_id, unit)
        where p.total < -b.negative_limit_micros`,
    );
    await count(
      "balances whose held amount differs from their open holds",
      `select count(*) as n from ledger.balances b
         left join (select account_id, unit, sum(greatest(amount_micros - charged_micros, 0)) as held
                      from ledger.holds where status = 'open' group by account_id, unit) h using (account_id, unit)
        where b.held_micros <> coalesce(h.held, 0)`,
    );
    await count("holds in an unknown state", `select count(*) as n from ledger.holds where status not in ('open', 'charged', 'released', 'expired')`);
    await count(
      "charge idempotency keys without exactly one entry",
      `select abs((select count(*) from ledger.idempotency_keys where operation = 'charge')
                - (select count(*) from ledger.entries where kind = 'charge')) as n`,
    );
  } finally {
    await client.end();
  }
  return { ok: violations.length === 0, violations };
}
