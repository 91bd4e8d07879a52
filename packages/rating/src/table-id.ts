import { InvalidArgumentError } from "@tollgate/errors";

/** A rate table's id: 1–64 lowercase letters, digits, '-' or '_' (a new table's, and the one a plan names). */
const TABLE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Refuses a rate table id of another shape, naming `field`. */
export function checkTableId(field: string, tableId: string): void {
  if (!TABLE_ID.test(tableId)) throw new InvalidArgumentError(field, "use 1–64 lowercase letters, digits, '-' or '_'");
}
