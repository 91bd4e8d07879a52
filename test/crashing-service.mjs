// A stand-in service for the supervisor's tests: it listens on PRICING_PORT, logs
// the line a service logs when it listens, and then, according to the file of
// instructions it is given (one line per start: "crash", "exit0", "fail" or "stay"),
// exits with code 3, exits with code 0, fails before listening, or stays up until SIGTERM.
import { appendFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

const starts = readFileSync(process.env.STARTS_FILE, "utf8").split("\n").filter(Boolean).length;
appendFileSync(process.env.STARTS_FILE, `${process.pid}\n`);
const plan = readFileSync(process.env.PLAN_FILE, "utf8").split("\n").filter(Boolean);
const instruction = plan[starts] ?? "stay";
if (instruction === "fail") process.exit(4);

const server = createServer().listen(Number(process.env.PRICING_PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", address: `127.0.0.1:${server.address().port}` }));
  if (instruction === "crash") setImmediate(() => process.exit(3));
  if (instruction === "exit0") setImmediate(() => process.exit(0));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
