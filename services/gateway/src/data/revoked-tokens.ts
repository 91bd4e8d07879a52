import { sql, type EntityManager } from "@tollgate/db";

/**
 * Console tokens signed out before their expiry (`gateway.revoked_tokens`),
 * by their `jti`: every gateway process on the database refuses them. A row
 * is kept until the token would have expired anyway, then pruned at the next
 * sign-out.
 */
export class RevokedTokens {
  constructor(private readonly em: () => EntityManager) {}

  /** Revokes the token until `expiresAtSeconds` (its `exp`); revoking it again changes nothing. */
  async revoke(tokenId: string, expiresAtSeconds: number): Promise<void> {
    const em = this.em();
    await sql(em, `insert into gateway.revoked_tokens (token_id, expires_at) values (?, to_timestamp(?)) on conflict (token_id) do nothing`, [tokenId, expiresAtSeconds]);
    // Sign-outs are rare: each one also takes away the rows of tokens expired since, with a margin for a gateway whose clock
    // is behind the database's (it would still take such a token); a failure is left to the next.
    await sql(em, `delete from gateway.revoked_tokens where expires_at < now() - interval '10 minutes'`).catch(() => undefined);
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    const rows = await sql<{ one: number }>(this.em(), `select 1 as one from gateway.revoked_tokens where token_id = ?`, [tokenId]);
    return rows.length > 0;
  }
}
