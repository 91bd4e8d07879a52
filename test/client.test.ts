/**
 * @tollgate/client against the real platform, authentication on: the three
 * metering patterns (one-shot reply, streamed response, long run), a lost
 * answer retried with the same key, and the typed errors.
 */
import { InterceptingCall, Metadata, status, type Interceptor } from "@grpc/grpc-js";
import {
  DeniedError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  TollgateClient,
  UnauthenticatedError,
  UnavailableError,
  usage,
  type Meter,
  type StreamCharge,
  type StreamMeter,
  type StreamTotals,
  type TollgateClientOptions,
} from "@tollgate/client";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREDIT } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
const clients: TollgateClient[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client as a service would make one: its own address and a `meter` credential renewed before it expires. */
function client(options: Partial<TollgateClientOptions> = {}, roles: ("meter" | "support")[] = ["meter"], accounts?: string[]): TollgateClient {
  const made = new TollgateClient({
    address: platform.ledger.address,
    credentials: platform.issuer!.credential("chat-backend", roles, accounts ? { accounts } : {}),
    ...options,
  });
  clients.push(made);
  return made;
}

async function account(accountId: string, planId: string) {
  const { entitlements } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats: 1 }));
}

async function plan(planId: string, credits: number, negative = 0) {
  const { entitlements } = platform.clients;
  await call(entitlements, entitlements.publishPlan, {
    actor: "test",
    reason: "",
    plan: entitlementsV1.Plan.fromPartial({
      planId,
      name: planId,
      rateTableId: "client",
      allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(credits * CREDIT) }],
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: String(negative * CREDIT) }],
    }),
  });
}

/**
 * Records each Charge's idempotency key in `keys` and, while `lose()` says so, replaces a Charge's answer with UNAVAILABLE on
 * its way back: the ledger applied it, the caller cannot tell.
 */
function losingChargeAnswers(keys: string[], lose: () => boolean): Interceptor {
  return (options, next) => {
    const isCharge = options.method_definition.path.endsWith("/Charge");
    return new InterceptingCall(next(options), {
      sendMessage(message, nextSend) {
        if (isCharge) keys.push((message as { idempotencyKey: string }).idempotencyKey);
        nextSend(message);
      },
      start(metadata, listener, nextStart) {
        nextStart(metadata, {
          onReceiveStatus(received, nextStatus) {
            if (isCharge && received.code === status.OK && lose()) nextStatus({ code: status.UNAVAILABLE, details: "connection reset (simulated)", metadata: new Metadata() });
            else nextStatus(received);
          },
        });
      },
    });
  };
}

const available = async (accountId: string) => (await clients[0]!.balance(accountId)).find((b) => b.unit === "credits")!.availableMicros;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  const rate = (bucket: commonV1.Bucket, kind: pricingV1.Rate["kind"]): pricingV1.Rate => ({ bucket, unit: commonV1.Unit.UNIT_CREDITS, kind });
  await call(platform.clients.pricing, platform.clients.pricing.publishRateTable, {
    tableId: "client",
    effectiveFrom: new Date(Date.now() - 60_000),
    actor: "test",
    reason: "",
    idempotencyKey: "",
    rates: [
      rate(commonV1.Bucket.BUCKET_AI, { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } }),
      // 1 credit per output token, 0.1 per input token.
      rate(commonV1.Bucket.BUCKET_AI, { $case: "modelToken", modelToken: pricingV1.ModelTokenRate.fromPartial({ model: "sonnet", inputMicrosPerMillion: String(100_000 * CREDIT), outputMicrosPerMillion: String(1_000_000 * CREDIT) }) }),
      rate(commonV1.Bucket.BUCKET_COMPUTE, { $case: "activeMinute", activeMinute: { microsPerMinute: String(60 * CREDIT) } }), // 1 credit per active second
    ],
  });
  await plan("hundred", 100);
  await plan("tiny", 1, 1);
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await platform?.stop();
  await db?.drop();
});

describe("one-shot reply", () => {
  it("authorizes an estimate, charges the actual usage and gives the rest back", async () => {
    await account("oneshot", "hundred");
    const tollgate = client();
    const hold = await tollgate.authorize({ accountId: "oneshot", estimate: usage.replies("gpt-4o", 2), attribution: { agentId: "support-bot" }, ttlMs: 60_000 });
    expect(hold).toMatchObject({ allowed: true, metered: true, amountMicros: 10n * BigInt(CREDIT), availableMicros: 90n * BigInt(CREDIT) });
    expect(hold.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/); // generated
    if (!hold.allowed) throw new Error("denied");
    const charged = await tollgate.charge({ accountId: "oneshot", holdId: hold.holdId!, usage: usage.replies("gpt-4o", 1) });
    expect(charged).toMatchObject({ chargedMicros: 5n * BigInt(CREDIT), releasedMicros: 5n * BigInt(CREDIT), balanceMicros: 95n * BigInt(CREDIT), proceed: true });
    expect(await available("oneshot")).toBe(95n * BigInt(CREDIT));
    // Releasing a hold the final charge closed gives nothing back.
    expect(await tollgate.release({ accountId: "oneshot", holdId: hold.holdId! })).toMatchObject({ releasedMicros: 0n, status: "CHARGED" });
  });

  it("retries a charge whose answer was lost with the same idempotency key, so it is charged once", async () => {
    await account("lossy", "hundred");
    // The first Charge reaches the ledger and is applied, but its answer is replaced by UNAVAILABLE on the way back.
    const keys: string[] = [];
    let lose = 1;
    const loseAnswer = losingChargeAnswers(keys, () => lose-- > 0);
    const retries: string[] = [];
    const tollgate = client({ interceptors: [loseAnswer], onRetry: (error, attempt, _delay, method) => retries.push(`${method}:${error.codeName}:${attempt}`) });
    const charged = await tollgate.charge({ accountId: "lossy", usage: usage.replies("gpt-4o", 1) });
    expect(retries).toEqual(["Charge:UNAVAILABLE:1"]);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(charged).toMatchObject({ idempotencyKey: keys[0], chargedMicros: 5n * BigInt(CREDIT) });
    expect(await available("lossy")).toBe(95n * BigInt(CREDIT)); // once, not twice
  });

  it("names the key a charge sent when every answer was lost, so the caller's own retry charges it once", async () => {
    await account("lossy-all", "hundred");
    const keys: string[] = [];
    let lose = true;
    const loseEveryAnswer = losingChargeAnswers(keys, () => lose);
    const tollgate = client({ interceptors: [loseEveryAnswer], retry: { maxAttempts: 2, baseDelayMs: 1 } });
    const failed = await tollgate.charge({ accountId: "lossy-all", usage: usage.replies("gpt-4o", 1) }).then(() => undefined, (error: unknown) => error);
    expect(failed).toBeInstanceOf(UnavailableError);
    expect(keys).toHaveLength(2);
    expect((failed as UnavailableError).idempotencyKey).toBe(keys[0]);
    expect(await available("lossy-all")).toBe(95n * BigInt(CREDIT)); // the ledger charged it; the caller cannot tell
    lose = false;
    const retried = await tollgate.charge({ accountId: "lossy-all", usage: usage.replies("gpt-4o", 1), idempotencyKey: (failed as UnavailableError).idempotencyKey! });
    expect(retried).toMatchObject({ idempotencyKey: keys[0], chargedMicros: 5n * BigInt(CREDIT) });
    expect(await available("lossy-all")).toBe(95n * BigInt(CREDIT)); // still once
    // A refusal names its key too: the caller sees what it sent.
    const refused = await tollgate.charge({ accountId: "lossy-all", usage: usage.replies("no-such-model", 1), idempotencyKey: "refused-1" }).then(() => undefined, (error: unknown) => error);
    expect(refused).toMatchObject({ reason: "MODEL_NOT_FOUND", idempotencyKey: "refused-1" });
  });
});

describe("streamed response", () => {
  /** A model streaming `chunks` chunks of 5 output tokens, stopping when the meter says so; returns how many chunks it sent. */
  async function stream(meter: Meter, chunks: number, afterChunk: (n: number) => Promise<void> = async () => undefined) {
    let sent = 0;
    for (let n = 1; n <= chunks && !meter.signal.aborted; n++) {
      sent = n;
      await meter.report(usage.tokens("sonnet", { output: 5 }));
      await afterChunk(n);
    }
    return sent;
  }

  it("stops within one increment when a concurrent caller drains the balance, posts the final charge, and a rerun of the same work charges nothing again", async () => {
    await account("streamer", "hundred");
    const tollgate = client();
    const other = client();
    const options = { accountId: "streamer", workKey: "reply-streamer-1", estimate: usage.tokens("sonnet", { output: 20 }), attribution: { conversationId: "conv-1" } };
    const meter = await tollgate.openMeter(options);
    expect(meter.authorization.amountMicros).toBe(20n * BigInt(CREDIT));
    let stoppedAfter = 0;
    void meter.stopped.then(() => (stoppedAfter = meter.increments));
    const sent = await stream(meter, 100, async (n) => {
      // After the second chunk another caller spends everything the hold does not reserve.
      if (n === 2) {
        const drained = await other.charge({ accountId: "streamer", usage: usage.replies("gpt-4o", 100) });
        expect(drained).toMatchObject({ chargedMicros: 80n * BigInt(CREDIT), proceed: false });
        expect(meter.signal.aborted).toBe(false); // the hold still covers this stream
      }
    });
    // The hold's 20 credits cover four chunks of 5; the fourth leaves the balance at its limit and stops the stream.
    expect(sent).toBe(4);
    expect(stoppedAfter).toBe(4);
    expect(await meter.stopped).toMatchObject({ reason: "LIMIT_REACHED" });
    expect(meter.signal.reason).toMatchObject({ reason: "LIMIT_REACHED" });
    const final = await meter.close();
    expect(final).toMatchObject({ chargedMicros: 0n, releasedMicros: 0n, idempotencyKey: "reply-streamer-1/final" });
    expect(meter.chargedMicros).toBe(20n * BigInt(CREDIT));
    expect(await available("streamer")).toBe(0n);

    // The same work again (a crashed worker's retry): every step replays its recorded answer.
    const again = await tollgate.openMeter(options);
    expect(again.holdId).toBe(meter.holdId);
    await stream(again, 4);
    expect(await again.close()).toMatchObject({ chargedMicros: 0n, entryId: final!.entryId });
    expect(again.chargedMicros).toBe(20n * BigInt(CREDIT));
    expect(await available("streamer")).toBe(0n);
  });

  it("grows the hold before it runs out (ExtendHold), so a stream longer than its estimate stays reserved", async () => {
    await account("outgrown", "hundred");
    const tollgate = client();
    const meter = await tollgate.openMeter({ accountId: "outgrown", workKey: "reply-outgrown-1", estimate: usage.tokens("sonnet", { output: 10 }), ttlMs: 60_000 });
    // Chunks of 5 credits on a 10-credit hold: from the third on, each is reserved by an extension before it is charged.
    expect(await stream(meter, 5)).toBe(5);
    const ledger = platform.clients.ledger;
    const hold = (await call(ledger, ledger.getHold, { holdId: meter.holdId! })).hold!;
    expect(hold).toMatchObject({ amountMicros: String(25 * CREDIT), chargedMicros: String(25 * CREDIT) });
    const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "outgrown" }));
    expect(entries.entries.filter((e) => e.kind === ledgerV1.EntryKind.ENTRY_KIND_CHARGE)).toHaveLength(5);
    expect(await meter.close()).toMatchObject({ chargedMicros: 0n, releasedMicros: 0n });
    expect(await available("outgrown")).toBe(75n * BigInt(CREDIT));
  });

  it("meter(…, body) closes with a final charge when the body returns and releases the hold when it throws", async () => {
    await account("bodies", "hundred");
    const tollgate = client();
    const estimate = usage.tokens("sonnet", { output: 30 });
    const tokens = await tollgate.meter({ accountId: "bodies", estimate }, async (meter) => {
      await meter.report(usage.tokens("sonnet", { input: 100, output: 10 })); // 10 + 10 credits
      return 10;
    });
    expect(tokens).toBe(10);
    expect(await available("bodies")).toBe(80n * BigInt(CREDIT));

    let opened: Meter | undefined;
    await expect(
      tollgate.meter({ accountId: "bodies", estimate }, async (meter) => {
        opened = meter;
        await meter.report(usage.tokens("sonnet", { output: 5 }));
        throw new Error("the model failed");
      }),
    ).rejects.toThrow("the model failed");
    expect(await opened!.stopped).toMatchObject({ reason: "RELEASED" });
    expect(await available("bodies")).toBe(75n * BigInt(CREDIT)); // the 5 streamed stay charged, the rest of the hold is back
  });

  it("meter(…, body) releases the hold when the final charge is refused, rather than leaving it held to its ttl", async () => {
    await account("refused-final", "hundred");
    const tollgate = client();
    const refusedClose = (meter: Meter) => meter.close(usage.tokens("sonnet", { output: 1 }), { occurredAt: new Date(Date.now() + 7 * 86_400_000) });
    // The body's own close is refused and the body goes on: the meter's close at the end answers the same refusal.
    const error = await tollgate.meter({ accountId: "refused-final", estimate: usage.tokens("sonnet", { output: 30 }) }, async (meter) => {
      await meter.report(usage.tokens("sonnet", { output: 5 }));
      void refusedClose(meter).catch(() => undefined);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(await available("refused-final")).toBe(95n * BigInt(CREDIT)); // the 5 reported stay charged, the rest of the hold is back
  });

  it("the caller's own signal stops the meter, which still posts its final charge", async () => {
    await account("cancels", "hundred");
    const cancel = new AbortController();
    const meter = await client().openMeter({ accountId: "cancels", estimate: usage.tokens("sonnet", { output: 20 }), signal: cancel.signal });
    await meter.report(usage.tokens("sonnet", { output: 3 }));
    cancel.abort(); // the end user went away
    expect(await meter.stopped).toMatchObject({ reason: "CANCELLED" });
    expect(meter.signal.aborted).toBe(true);
    expect(await meter.close()).toMatchObject({ releasedMicros: 17n * BigInt(CREDIT) });
    expect(await available("cancels")).toBe(97n * BigInt(CREDIT));
  });

  it("a denied estimate throws DeniedError with the reason and the words", async () => {
    await account("poor", "tiny");
    const error = await client().openMeter({ accountId: "poor", estimate: usage.tokens("sonnet", { output: 50 }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeniedError);
    expect(error).toMatchObject({ kind: "denied", reason: "INSUFFICIENT_CREDITS", availableMicros: 1n * BigInt(CREDIT), message: expect.stringContaining("50 credits") });
  });
});

describe("streamed response over the Meter stream", () => {
  it("hears the ledger's stop while idle, when another caller drains the balance, and closes with the totals", async () => {
    await account("streamed", "hundred");
    const tollgate = client();
    const other = client();
    const estimate = usage.tokens("sonnet", { output: 20 });
    const totals = await tollgate.stream({ accountId: "streamed", workId: "stream-streamed-1", estimate, attribution: { conversationId: "conv-s" } }, async (meter) => {
      expect(meter).toMatchObject({ amountMicros: 20n * BigInt(CREDIT), metered: true });
      // Two increments in flight at once; they are charged in order and use the whole hold.
      const [first, second] = await Promise.all([meter.report(usage.tokens("sonnet", { output: 5 })), meter.report(usage.tokens("sonnet", { output: 15 }))]);
      expect(first).toMatchObject({ sequence: 1n, chargedMicros: 5n * BigInt(CREDIT), proceed: true, replayed: false });
      expect(second).toMatchObject({ sequence: 2n, chargedMicros: 15n * BigInt(CREDIT), proceed: true });
      expect(meter.signal.aborted).toBe(false);

      // Another caller spends the other 80 credits; the stream reports nothing and still hears of it.
      expect(await other.charge({ accountId: "streamed", usage: usage.replies("gpt-4o", 100) })).toMatchObject({ chargedMicros: 80n * BigInt(CREDIT), proceed: false });
      expect(await meter.stopped).toMatchObject({ reason: "LIMIT_REACHED", ledgerReason: "NEGATIVE_LIMIT" });
      expect(meter.signal.reason).toMatchObject({ reason: "LIMIT_REACHED" });
      expect(meter.increments).toBe(2);
      return meter.close();
    });
    expect(totals).toEqual({ totalChargedMicros: 20n * BigInt(CREDIT), finalChargedMicros: 0n, releasedMicros: 0n });
    expect(await available("streamed")).toBe(0n);
  });

  it("reconnects a broken stream with the same open and resends what was not answered, so each increment is charged once", async () => {
    await account("reconnects", "hundred");
    // The ledger's answer to the second increment is lost: the connection breaks as it arrives.
    let broken = false;
    const breakStream: Interceptor = (options, next) => {
      const intercepting: InterceptingCall = new InterceptingCall(next(options), {
        start(metadata, _listener, nextStart) {
          nextStart(metadata, {
            onReceiveMessage(message: ledgerV1.MeterResponse, nextMessage) {
              if (!broken && message.kind?.$case === "charged" && message.kind.charged.sequence === "2") {
                broken = true;
                intercepting.cancelWithStatus(status.UNAVAILABLE, "connection reset (simulated)");
                nextMessage({}); // grpc-js holds the status until a message is passed on: an empty one, which carries no answer
              } else nextMessage(message);
            },
          });
        },
      });
      return intercepting;
    };
    const retries: string[] = [];
    // While the stream is down the caller reports once more and closes: both wait for the new stream.
    let duringReconnect: Promise<[StreamCharge, StreamTotals]> | undefined;
    const tollgate = client({
      interceptors: [breakStream],
      onRetry: (error, attempt, _delay, method) => {
        retries.push(`${method}:${error.codeName}:${attempt}`);
        duringReconnect = Promise.all([meter.report(usage.tokens("sonnet", { output: 1 })), meter.close(usage.tokens("sonnet", { output: 2 }))]);
      },
    });
    const meter: StreamMeter = await tollgate.openStream({ accountId: "reconnects", workId: "stream-reconnects-1", estimate: usage.tokens("sonnet", { output: 30 }) });
    const answers = await Promise.all([1, 2, 3].map(() => meter.report(usage.tokens("sonnet", { output: 5 }))));
    expect(broken).toBe(true);
    expect(retries).toEqual(["Meter:UNAVAILABLE:1"]);
    expect(answers.map((a) => a.sequence)).toEqual([1n, 2n, 3n]);
    expect(answers[0]).toMatchObject({ replayed: false, chargedMicros: 5n * BigInt(CREDIT) });
    // The second was charged before its answer was lost: the new stream's resend gets the recorded answer.
    expect(answers[1]).toMatchObject({ replayed: true, chargedMicros: 5n * BigInt(CREDIT) });
    const [late, totals] = await duringReconnect!;
    expect(late).toMatchObject({ sequence: 4n, replayed: false, chargedMicros: 1n * BigInt(CREDIT) });
    expect(totals).toEqual({ totalChargedMicros: 18n * BigInt(CREDIT), finalChargedMicros: 2n * BigInt(CREDIT), releasedMicros: 12n * BigInt(CREDIT) });
    expect(await meter.stopped).toMatchObject({ reason: "CLOSED" });
    expect(await available("reconnects")).toBe(82n * BigInt(CREDIT));
    const ledger = platform.clients.ledger;
    const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "reconnects", holdId: meter.holdId! }));
    expect(entries.entries.filter((e) => e.kind === ledgerV1.EntryKind.ENTRY_KIND_CHARGE && e.amountMicros !== "0").map((e) => e.amountMicros).sort()).toEqual([
      String(1 * CREDIT), String(2 * CREDIT), String(5 * CREDIT), String(5 * CREDIT), String(5 * CREDIT),
    ]);
  });

  it("fails the meter on an increment the ledger refuses (INVALID_ARGUMENT naming the field), without retrying it", async () => {
    await account("refused-increment", "hundred");
    const retries: string[] = [];
    const meter = await client({ onRetry: (error) => retries.push(error.codeName) }).openStream({ accountId: "refused-increment", estimate: usage.tokens("sonnet", { output: 10 }) });
    expect((await meter.report(usage.tokens("sonnet", { output: 1 }))).chargedMicros).toBe(1n * BigInt(CREDIT));
    const error = await meter.report(usage.tokens("sonnet", { output: 1 }), { occurredAt: new Date(Date.now() + 7 * 86_400_000) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ field: "increment.occurred_at" });
    expect(await meter.stopped).toMatchObject({ reason: "FAILED" });
    await expect(meter.report(usage.tokens("sonnet", { output: 1 }))).rejects.toBe(error);
    expect(retries).toEqual([]);
  });

  it("a denied open throws DeniedError; the caller's signal stops an open stream", async () => {
    await account("stream-poor", "tiny");
    const error = await client().openStream({ accountId: "stream-poor", estimate: usage.tokens("sonnet", { output: 50 }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeniedError);
    expect(error).toMatchObject({ reason: "INSUFFICIENT_CREDITS", availableMicros: 1n * BigInt(CREDIT) });

    await account("stream-cancels", "hundred");
    const cancel = new AbortController();
    const meter = await client().openStream({ accountId: "stream-cancels", estimate: usage.tokens("sonnet", { output: 20 }), signal: cancel.signal });
    await meter.report(usage.tokens("sonnet", { output: 3 }));
    cancel.abort();
    expect(await meter.stopped).toMatchObject({ reason: "CANCELLED" });
    expect(await meter.close()).toMatchObject({ totalChargedMicros: 3n * BigInt(CREDIT), releasedMicros: 17n * BigInt(CREDIT) });
    expect(await available("stream-cancels")).toBe(97n * BigInt(CREDIT));
  });
});

describe("long run", () => {
  it("charges active time only, and reports the total at the end", async () => {
    await account("runner", "hundred");
    const run = await client().run({ accountId: "runner", runId: "client-run-1", labels: { tool: "browser" }, watchIntervalMs: 0 });
    expect(run.metered).toBe(true);
    await sleep(1_200);
    await run.pause();
    await sleep(1_500); // waiting for the user: free
    expect(await run.resume()).toBe(true);
    await sleep(1_100);
    const ended = await run.end();
    expect(ended.activeSeconds).toBeGreaterThanOrEqual(2n);
    expect(ended.activeSeconds).toBeLessThanOrEqual(3n);
    expect(ended.totalChargedMicros).toBe(ended.activeSeconds * BigInt(CREDIT));
    expect(await run.end()).toEqual(ended);
    expect(await run.stopped).toMatchObject({ reason: "CLOSED" });
  });

  it("signals a stop when the ledger stops the run for want of credits", async () => {
    await account("shortrun", "tiny");
    const run = await client().run({ accountId: "shortrun", watchIntervalMs: 200 });
    const stop = await Promise.race([run.stopped, sleep(15_000).then(() => undefined)]);
    expect(stop).toMatchObject({ reason: "LIMIT_REACHED", message: expect.stringContaining("limit") });
    expect(run.signal.aborted).toBe(true);
    expect(await run.resume()).toBe(false);
    const ended = await run.end();
    expect(ended.totalChargedMicros).toBe(2n * BigInt(CREDIT)); // 1 credit and the 1-credit negative limit
  });
});

describe("errors", () => {
  it("INVALID_ARGUMENT names the field", async () => {
    await account("errors", "hundred");
    const error = await client().authorize({ accountId: "errors", estimate: usage.replies("gpt-4o"), ttlMs: 8 * 86_400_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: status.INVALID_ARGUMENT, codeName: "INVALID_ARGUMENT", field: "ttl_ms" });
    const badHold = await client().charge({ accountId: "errors", holdId: "not-a-uuid", usage: usage.replies("gpt-4o") }).catch((e: unknown) => e);
    expect(badHold).toMatchObject({ constructor: InvalidArgumentError, field: "hold_id" });
  });

  it("PERMISSION_DENIED carries the reason and what would do", async () => {
    const wrongRole = await client({}, ["support"]).charge({ accountId: "errors", usage: usage.replies("gpt-4o") }).catch((e: unknown) => e);
    expect(wrongRole).toBeInstanceOf(PermissionDeniedError);
    expect(wrongRole).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ROLE_REQUIRED", metadata: { role: expect.stringContaining("meter") } });
    const otherAccount = await client({}, ["meter"], ["someone-else"]).charge({ accountId: "errors", usage: usage.replies("gpt-4o") }).catch((e: unknown) => e);
    expect(otherAccount).toMatchObject({ constructor: PermissionDeniedError, reason: "ACCOUNT_NOT_PERMITTED" });
  });

  it("carries a person's name beyond ASCII (zoë) to the services, which accept it from a service principal only", async () => {
    const error = await client({ onBehalfOf: "zoë" }).charge({ accountId: "errors", usage: usage.replies("gpt-4o") }).catch((e: unknown) => e);
    expect(error).toMatchObject({ constructor: PermissionDeniedError, reason: "ON_BEHALF_OF_NOT_PERMITTED" });
  });

  it("NOT_FOUND names what is missing", async () => {
    const error = await client().authorize({ accountId: "nobody-here", estimate: usage.replies("gpt-4o") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ code: status.NOT_FOUND, reason: "ACCOUNT_NOT_FOUND", metadata: { account: "nobody-here" } });
  });

  it("UNAUTHENTICATED for a token the platform does not trust, without retrying", async () => {
    const retries: string[] = [];
    const stranger = client({ credentials: "not.a.token", onRetry: (e) => retries.push(e.codeName) });
    const error = await stranger.balance("errors").catch((e: unknown) => e);
    expect(error).toMatchObject({ constructor: UnauthenticatedError, reason: "CREDENTIAL_INVALID" });
    expect(retries).toEqual([]);
    // A token source that fails: nothing is sent, and the error says so with a reason of its own.
    const unprovided = client({ credentials: async () => Promise.reject(new Error("the vault is sealed")), onRetry: (e) => retries.push(e.codeName) });
    const failed = await unprovided.balance("errors").catch((e: unknown) => e);
    expect(failed).toMatchObject({ constructor: UnauthenticatedError, reason: "CREDENTIAL_UNAVAILABLE", message: "could not get a credential: the vault is sealed" });
    expect(retries).toEqual([]);
  });
});
