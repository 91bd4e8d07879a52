/**
 * A list filtered by an account whose first page is empty is NOT_FOUND when
 * the account does not exist: a mistyped id is not an empty history.
 * `requireAccount` throws NOT_FOUND for an account entitlements does not
 * know; it is asked only then, so a page with rows costs no look-up.
 */
export async function requireKnownWhenEmpty(
  requireAccount: (accountId: string) => Promise<unknown>,
  accountId: string,
  rows: readonly unknown[],
  firstPage: boolean,
): Promise<void> {
  if (accountId && rows.length === 0 && firstPage) await requireAccount(accountId);
}
