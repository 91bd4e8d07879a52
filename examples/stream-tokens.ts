/**
 * Meters a simulated token stream with @tollgate/client, against `npm start`:
 *
 *   TOLLGATE_TOKEN=$(npm run -s token -- --role meter) npx tsx examples/stream-tokens.ts [account] [tokens] [--stream]
 *
 * It authorizes an estimate, reports the tokens as the "model" streams them
 * (one Charge per chunk on the hold, each keyed by the work key and the
 * chunk's number), stops the stream if the ledger says the account is at its
 * limit, and closes with the final charge, which gives back what the hold
 * reserved beyond the usage. With --stream the same work goes over the
 * ledger's Meter stream instead (increments on one bidirectional stream, the
 * stop pushed by the ledger). LEDGER_ADDRESS points elsewhere (127.0.0.1:50053).
 */
import { DeniedError, RpcError, TollgateClient, usage, type Stop, type Usage } from "@tollgate/client";

const overStream = process.argv.includes("--stream");
const [accountId = "demo-terminal", total = "1200"] = process.argv.slice(2).filter((arg) => arg !== "--stream");
const totalTokens = Number(total);
if (!/^\d+$/.test(total) || totalTokens === 0) {
  console.error(`tokens must be a positive whole number, not '${total}'`);
  process.exit(2);
}
const model = process.env.MODEL ?? "claude-sonnet-4.6";
const token = process.env.TOLLGATE_TOKEN;
if (!token) {
  console.error("Set TOLLGATE_TOKEN to a meter credential: TOLLGATE_TOKEN=$(npm run -s token -- --role meter) npx tsx examples/stream-tokens.ts");
  process.exit(2);
}

const tollgate = new TollgateClient({
  address: process.env.LEDGER_ADDRESS ?? "127.0.0.1:50053",
  credentials: token,
  deadlineMs: 3_000,
  onRetry: (error, attempt, delayMs, method) => console.log(`  (retrying ${method} after ${error.codeName}, attempt ${attempt}, in ${delayMs} ms)`),
});
const credits = (micros: bigint) => `${(Number(micros) / 1e6).toLocaleString("en", { maximumFractionDigits: 6 })} credits`;
const availableNow = async () => (await tollgate.balance(accountId)).find((b) => b.unit === "credits")?.availableMicros ?? 0n;

/** A stand-in for a model's streamed reply: chunks of 40 tokens, 25 ms apart, until `total` or the signal says stop. */
async function* modelStream(total: number, signal: AbortSignal) {
  for (let sent = 0; sent < total && !signal.aborted; ) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const chunk = Math.min(40, total - sent);
    sent += chunk;
    yield { text: "…".repeat(chunk / 8), tokens: chunk };
  }
}

const workKey = `example-reply-${Date.now()}`;

/** What both meters offer the model loop: report an increment, and the stop signal. */
interface Metering {
  report(usage: Usage): Promise<{ balanceMicros: bigint }>;
  readonly signal: AbortSignal;
  readonly stopped: Promise<Stop>;
  readonly increments: number;
  readonly chargedMicros: bigint;
}

/** The model's reply, metered: the prompt first, then each chunk as it streams, until done or told to stop. */
async function generate(meter: Metering): Promise<number> {
  // The prompt is known up front: charge it as the first increment.
  await meter.report(usage.tokens(model, { input: 800 }));
  let tokens = 0;
  for await (const chunk of modelStream(totalTokens, meter.signal)) {
    tokens += chunk.tokens;
    const charged = await meter.report(usage.tokens(model, { output: chunk.tokens }));
    if (meter.increments % 10 === 0) console.log(`  ${tokens} tokens streamed, ${credits(meter.chargedMicros)} charged, balance ${credits(charged.balanceMicros)}`);
  }
  if (meter.signal.aborted) console.log(`stopped after ${tokens} tokens: ${(await meter.stopped).message}`);
  return tokens;
}

try {
  const before = await availableNow();
  console.log(`${accountId}: ${credits(before)} available`);
  const options = {
    accountId,
    estimate: usage.tokens(model, { input: 800, output: 1_000 }),
    attribution: { agentId: "example-agent", conversationId: workKey, model },
    ttlMs: 120_000,
  };
  const streamed = overStream
    ? await tollgate.stream({ ...options, workId: workKey }, (meter) => {
        console.log(`Meter stream ${workKey}: hold ${meter.holdId} for ${credits(meter.amountMicros)}`);
        return generate(meter);
      })
    : await tollgate.meter({ ...options, workKey }, (meter) => {
        console.log(`hold ${meter.holdId} for ${credits(meter.authorization.amountMicros)} (work key ${workKey})`);
        return generate(meter);
      });
  const after = await availableNow();
  console.log(`streamed ${streamed} tokens; ${accountId}: ${credits(after)} available (was ${credits(before)}, ${credits(before - after)} used)`);
} catch (error) {
  if (error instanceof DeniedError) console.error(`denied: ${error.reason}: ${error.message}`);
  else if (error instanceof RpcError) console.error(`${error.codeName}${error.reason ? ` ${error.reason}` : ""}${error.field ? ` (field ${error.field})` : ""}: ${error.message}`);
  else throw error;
  process.exitCode = 1;
} finally {
  tollgate.close();
}
