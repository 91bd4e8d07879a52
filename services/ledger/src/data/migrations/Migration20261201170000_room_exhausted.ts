import { Migration } from "@tollgate/db";
import { ROOM_EXHAUSTED } from "./room-exhausted.sql.js";

/** A commit that leaves an account's unit without room notifies `ledger_room_exhausted` (Meter streams stop on it). */
export class Migration20261201170000_room_exhausted extends Migration {
  override name = "Migration20261201170000_room_exhausted";

  override up(): void {
    for (const statement of ROOM_EXHAUSTED) this.addSql(statement);
  }
}
