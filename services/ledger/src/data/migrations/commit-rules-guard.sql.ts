import { ROOM_EXHAUSTED } from "./room-exhausted.sql.js";
import { SPEND_CAP_REACHED } from "./spend-cap-reached.sql.js";

/**
 * The pool triggers of earlier releases (spend cap reached, room exhausted),
 * quiet in a transaction whose commit rules run in TypeScript: the state
 * store begins every batch with `set local tollgate.commit_rules = 'app'`
 * and applies domain/commit-rules.ts itself, so exactly one of the two emits.
 * A ledger of an earlier release (its SQL functions) never sets it, so its
 * writes still get the event and the signal from the triggers while old and
 * new ledgers run side by side. The bodies are otherwise those of
 * Migration20261130200000_spend_cap_reached and
 * Migration20261201170000_room_exhausted (taken from their files); a later
 * migration drops both triggers and functions once no ledger of an earlier
 * release runs (docs/operations.md).
 */
const QUIET_WHEN_RULES_IN_APP = `
  if current_setting('tollgate.commit_rules', true) = 'app' then
    return null;
  end if;`;

/** A landed trigger function, quiet when the commit rules run in TypeScript (the landed files never change, so neither does this). */
function quiet(landed: string): string {
  const guarded = landed.replace("create function", "create or replace function").replace(/\nbegin\n/, `\nbegin${QUIET_WHEN_RULES_IN_APP}\n`);
  if (!guarded.includes("create or replace function") || !guarded.includes("tollgate.commit_rules")) throw new Error("a trigger function is not in the shape the guard expects");
  return guarded;
}

export const COMMIT_RULES_GUARD = [quiet(SPEND_CAP_REACHED[1]!), quiet(ROOM_EXHAUSTED[0]!)];
