import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@tollgate/errors";
import type { Account } from "../data/account.entity.js";
import type { EntitlementsStore } from "../data/entitlements-store.js";
import { Accounts, kindsWithinUnits } from "./accounts.js";

/** One account held in memory: updates apply the changes the rules return, as the store does under its lock. */
function accountsWith(account: Partial<Account>) {
  let held = { accountId: "a", billingMode: "credits", spendCapMicros: "0", limitOverrides: [], planVersion: "1", ...account } as Account;
  const store = {
    async updateAccount(_id: string, changesOf: (account: Account) => Promise<Partial<Account>>) {
      held = { ...held, ...(await changesOf(held)) };
      return held;
    },
  } as unknown as EntitlementsStore;
  return { accounts: new Accounts(store), held: () => held };
}

const setCap = (accounts: Accounts, micros: bigint) => accounts.update({ accountId: "a", spendCapMicros: micros, actor: "support", reason: "asked" });

describe("spend caps", () => {
  it("are set on a bring-your-own-model account, 0 removing one", async () => {
    const { accounts, held } = accountsWith({ billingMode: "byom_usd", spendCapMicros: "1000000" });
    await setCap(accounts, 5_000_000n);
    expect(held().spendCapMicros).toBe("5000000");
    await setCap(accounts, 0n);
    expect(held().spendCapMicros).toBe("0");
  });

  it("are refused on a credits account whatever the amount, 0 included (a change of nothing)", async () => {
    const { accounts, held } = accountsWith({ billingMode: "credits" });
    for (const micros of [5_000_000n, 0n]) {
      await expect(setCap(accounts, micros)).rejects.toMatchObject(new InvalidArgumentError("spend_cap_micros", "spend caps are for bring-your-own-model accounts"));
    }
    expect(held().spendCapMicros).toBe("0");
  });

  it("let 0 clear a cap an earlier release left on a credits account, and nothing else", async () => {
    const { accounts, held } = accountsWith({ billingMode: "credits", spendCapMicros: "7000000" });
    await expect(setCap(accounts, 1n)).rejects.toBeInstanceOf(InvalidArgumentError);
    await setCap(accounts, 0n);
    expect(held().spendCapMicros).toBe("0");
  });
});

describe("a kind of work's negative limit", () => {
  it("may not exceed its unit's, said in whole units as a person typed them", () => {
    const rows = [
      { unit: "UNIT_CREDITS", lowCreditLimitMicros: 0n, negativeLimitMicros: 5_000_000n },
      { unit: "UNIT_CREDITS", workKind: "guardrail", lowCreditLimitMicros: 0n, negativeLimitMicros: 50_000_000n },
    ];
    expect(() => kindsWithinUnits(rows, "plan.limits")).toThrow(
      "the guardrail negative limit (50 credits) may not exceed the credits negative limit (5 credits), which bounds every charge",
    );
  });
});
