// Started by embedded.test.ts: an embedded PostgreSQL, and on SIGINT a shutdown that takes a while (as npm start's
// services draining do) before it stops PostgreSQL and says so.
import { ensurePostgres } from "./index.js";

const postgres = await ensurePostgres({ log: (line) => console.log(line), callerHandlesSignals: true });
process.once("SIGINT", async () => {
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await postgres.stop();
  console.log("stopped");
  process.exit(0);
});
console.log(`ready ${postgres.url}`);
