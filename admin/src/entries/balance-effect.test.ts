import { describe, expect, it } from "vitest";
import { balanceEffectOf } from "./balance-effect";

const line = (ledger_account: string, pool_id: string, amount_micros: string) => ({ ledger_account, pool_id, amount_micros });

describe("balanceEffectOf", () => {
  it("signs every kind by what it did to the balance: a charge takes, a reversal and a grant give", () => {
    // As the ledger journals them: a charge of 5 from two pools, its reversal, a grant of 100.
    const charge = [line("pool:a", "a", "-3000000"), line("pool:b", "b", "-2000000"), line("usage:acme:ai", "", "5000000")];
    const reversal = [line("pool:a", "a", "3000000"), line("pool:b", "b", "2000000"), line("usage:acme:ai", "", "-5000000")];
    const grant = [line("pool:c", "c", "100000000"), line("grants:acme", "", "-100000000")];
    expect([charge, reversal, grant].map(balanceEffectOf)).toEqual(["-5000000", "5000000", "100000000"]);
    expect(balanceEffectOf([])).toBe("0");
  });
});
