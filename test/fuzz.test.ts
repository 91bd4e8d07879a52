import { afterAll, beforeAll, expect, it } from "vitest";
import { Metadata, status, type Client } from "@grpc/grpc-js";
import { ScalarType, type DescField, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { call, descriptors } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CREDIT, authorizeRequest, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

/**
 * Random requests over every RPC of the four services, against real servers:
 * random values of each field's type, plausible requests with one field
 * randomised, and raw bytes with unknown field numbers. No answer may be
 * INTERNAL or UNKNOWN, every service must still be SERVING, and the ledger's
 * journal must still agree with its balances and holds.
 *
 * Seeded and bounded by a count: FUZZ_SEED=<n> replays a run, FUZZ_COUNT=<n>
 * changes its size.
 */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.FUZZ_COUNT ?? 2_000);
const CONCURRENCY = 12;
const ACCOUNTS = ["fuzz-0", "fuzz-1", "fuzz-2"];

let db: TestDatabase;
let platform: Platform;
let sql: pg.Client;
const known = { holds: [] as string[], pools: [] as string[] };

beforeAll(async () => {
  console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} to replay), ${COUNT} requests`);
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, ACCOUNTS[0]!);
  const { entitlements, ledger } = platform.clients;
  for (const accountId of ACCOUNTS.slice(1)) {
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId: "starter", seats: 1 }));
  }
  for (const accountId of ACCOUNTS) {
    const granted = await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId, poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(500 * CREDIT),
      reason: "fuzz", actor: "fuzz", idempotencyKey: `${accountId}-grant`,
    }));
    known.pools.push(granted.poolId);
    const hold = await call(ledger, ledger.authorize, authorizeRequest(accountId, `${accountId}-hold`, 2));
    known.holds.push(hold.holdId);
  }
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await platform?.stop();
  await db?.drop();
});

/** mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
const random = prng(SEED);

const uuid = () => Array.from({ length: 16 }, () => random.int(256).toString(16).padStart(2, "0")).join("").replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
const INT64_EDGES = ["0", "-1", "1", "9223372036854775807", "-9223372036854775808", "4611686018427387904", "1000000000000000"];
const INT32_EDGES = [0, -1, 1, 2147483647, -2147483648, 100, 1000000];

function randomString(): string {
  return random.pick([
    () => "",
    () => "a",
    () => "x".repeat(random.pick([255, 256, 257, 1024, 1025, 4096, 100_000])),
    () => `a\0b`,
    () => "é☃😀\u202e",
    () => uuid(),
    () => random.pick(["-1", "1e3", "NaN", "null", "0", "99999999999999999999", "🤖"]),
    () => Array.from({ length: 1 + random.int(20) }, () => String.fromCharCode(32 + random.int(95))).join(""),
    () => random.pick(ACCOUNTS),
  ])();
}

/** A value a caller would plausibly send for a field of this name. */
function plausibleScalar(field: DescField, scalar: ScalarType): unknown {
  if (scalar === ScalarType.STRING) {
    switch (field.name) {
      case "account_id": return random.pick(ACCOUNTS);
      case "plan_id": return "starter";
      case "table_id": return "default";
      case "model": return "gpt-4o";
      case "hold_id": return random.chance(0.8) ? random.pick(known.holds) : uuid();
      case "pool_id": return random.pick(known.pools);
      case "run_id": return `fuzz-run-${random.int(4)}`;
      case "deployment_id": return `fuzz-dep-${random.int(4)}`;
      case "idempotency_key": return `fuzz-${random.int(1_000_000)}`;
      case "page_token": return random.chance(0.8) ? "" : String(random.int(100));
      case "url": return "";
      default: return random.chance(0.5) ? "" : `fuzz ${random.int(100)}`;
    }
  }
  if (scalar === ScalarType.BOOL) return random.chance(0.5);
  if (scalar === ScalarType.INT64 || scalar === ScalarType.UINT64 || scalar === ScalarType.SINT64) {
    if (/version|sequence|revision|ttl/.test(field.name)) return "0";
    return String(random.int(field.name.includes("micros") ? 10 * CREDIT : 5));
  }
  return field.name === "page_size" ? random.int(50) : random.int(5);
}

function randomScalar(scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.STRING: return randomString();
    case ScalarType.BOOL: return random.chance(0.5);
    case ScalarType.INT64: case ScalarType.SINT64: case ScalarType.SFIXED64:
      return random.chance(0.6) ? random.pick(INT64_EDGES) : (BigInt.asIntN(64, BigInt(random.int(2 ** 32)) << 32n | BigInt(random.int(2 ** 32)))).toString();
    case ScalarType.UINT64: case ScalarType.FIXED64:
      return random.pick(INT64_EDGES).replace("-", "");
    case ScalarType.DOUBLE: case ScalarType.FLOAT: return random.pick([0, -1, 1e308, Number.NaN]);
    default: return random.chance(0.6) ? random.pick(INT32_EDGES) : random.int(2 ** 31) * (random.chance(0.5) ? 1 : -1);
  }
}

function writeScalar(w: BinaryWriter, number: number, scalar: ScalarType, value: unknown): void {
  switch (scalar) {
    case ScalarType.STRING: w.tag(number, WireType.LengthDelimited).string(value as string); break;
    case ScalarType.BOOL: w.tag(number, WireType.Varint).bool(value as boolean); break;
    case ScalarType.INT64: w.tag(number, WireType.Varint).int64(value as string); break;
    case ScalarType.UINT64: w.tag(number, WireType.Varint).uint64(value as string); break;
    case ScalarType.SINT64: w.tag(number, WireType.Varint).sint64(value as string); break;
    case ScalarType.UINT32: w.tag(number, WireType.Varint).uint32((value as number) >>> 0); break;
    case ScalarType.DOUBLE: w.tag(number, WireType.Bit64).double(value as number); break;
    case ScalarType.FLOAT: w.tag(number, WireType.Bit32).float(value as number); break;
    default: w.tag(number, WireType.Varint).int32(value as number);
  }
}

type Plan = { randomise: (field: DescField) => boolean };

function writeField(w: BinaryWriter, field: DescField, plan: Plan, depth: number): void {
  const wild = plan.randomise(field);
  const enumValue = (f: DescField) =>
    wild ? random.int(f.enum!.values.length + 6) - 3 : random.pick(f.enum!.values.filter((v) => v.number !== 0).map((v) => v.number).concat([0]));
  const message = (desc: DescMessage, number: number) => {
    w.tag(number, WireType.LengthDelimited).fork();
    if (desc.typeName === "google.protobuf.Timestamp") {
      const seconds = wild ? random.pick(["-62135596800", "253402300799", "9223372036854775807", "-1", "4102444800"]) : String(Math.floor(Date.now() / 1000) + random.int(86_400) - 3_600);
      w.tag(1, WireType.Varint).int64(seconds).tag(2, WireType.Varint).int32(wild ? random.pick(INT32_EDGES) : 0);
    } else if (depth < 4) {
      writeMessage(w, desc, wild ? { randomise: () => random.chance(0.5) } : plan, depth + 1);
    }
    w.join();
  };
  switch (field.fieldKind) {
    case "scalar": writeScalar(w, field.number, field.scalar, wild ? randomScalar(field.scalar) : plausibleScalar(field, field.scalar)); break;
    case "enum": w.tag(field.number, WireType.Varint).int32(enumValue(field)); break;
    case "message": message(field.message, field.number); break;
    case "list": {
      const count = wild ? random.pick([0, 1, 3, 25, 150]) : random.int(3);
      for (let i = 0; i < count; i++) {
        if (field.listKind === "scalar") writeScalar(w, field.number, field.scalar, wild ? randomScalar(field.scalar) : plausibleScalar(field, field.scalar));
        else if (field.listKind === "enum") w.tag(field.number, WireType.Varint).int32(enumValue(field));
        else message(field.message, field.number);
      }
      break;
    }
    case "map": {
      const count = wild ? random.pick([0, 1, 30, 120]) : random.int(3);
      for (let i = 0; i < count; i++) {
        w.tag(field.number, WireType.LengthDelimited).fork();
        writeScalar(w, 1, field.mapKey, field.mapKey === ScalarType.STRING ? (wild ? randomString() : random.pick(["model", "tool", "language", "type"])) : random.int(5));
        if (field.mapKind === "scalar") writeScalar(w, 2, field.scalar, wild ? randomScalar(field.scalar) : plausibleScalar(field, field.scalar));
        else if (field.mapKind === "enum") w.tag(2, WireType.Varint).int32(enumValue(field));
        else message(field.message, 2);
        w.join();
      }
      break;
    }
  }
}

function writeMessage(w: BinaryWriter, desc: DescMessage, plan: Plan, depth = 0): void {
  const oneofChoice = new Map(desc.oneofs.map((o) => [o, random.pick(o.fields)]));
  for (const field of desc.fields) {
    if (field.oneof && oneofChoice.get(field.oneof) !== field) continue;
    if (random.chance(0.15)) continue;
    writeField(w, field, plan, depth);
  }
}

/** Unknown field numbers with every wire type, or a wire type a known field does not have. */
function unknownFields(w: BinaryWriter): void {
  for (let i = 0, n = 1 + random.int(4); i < n; i++) {
    const number = random.pick([1, 2, 3, 15, 16, 100, 2047, 536_870_911]);
    switch (random.int(4)) {
      case 0: w.tag(number, WireType.Varint).uint64(random.pick(INT64_EDGES).replace("-", "")); break;
      case 1: w.tag(number, WireType.Bit64).fixed64("1"); break;
      case 2: w.tag(number, WireType.LengthDelimited).bytes(Uint8Array.from({ length: random.int(40) }, () => random.int(256))); break;
      default: w.tag(number, WireType.Bit32).fixed32(random.int(2 ** 31));
    }
  }
}

function request(input: DescMessage): { mode: string; bytes: Uint8Array } {
  const w = new BinaryWriter();
  const mode = random.pick(["typed", "one-field", "one-field", "raw"]);
  if (mode === "typed") {
    writeMessage(w, input, { randomise: () => true });
  } else if (mode === "one-field") {
    const target = random.pick(input.fields.length > 0 ? input.fields : [undefined]);
    writeMessage(w, input, { randomise: (field) => field === target });
  } else if (random.chance(0.3)) {
    return { mode: "random bytes", bytes: Uint8Array.from({ length: random.int(64) }, () => random.int(256)) };
  } else {
    writeMessage(w, input, { randomise: () => false });
    unknownFields(w);
  }
  return { mode, bytes: w.finish() };
}

const identity = (b: Buffer) => b;

function send(client: Client, path: string, streaming: boolean, bytes: Uint8Array): Promise<number> {
  const options = { deadline: Date.now() + (streaming ? 300 : 15_000) };
  return new Promise((resolve) => {
    if (!streaming) {
      client.makeUnaryRequest(path, identity, identity, Buffer.from(bytes), new Metadata(), options, (error) => resolve(error ? error.code : status.OK));
      return;
    }
    const stream = client.makeServerStreamRequest(path, identity, identity, Buffer.from(bytes), new Metadata(), options);
    stream.on("data", () => stream.cancel());
    stream.on("error", (error: { code: number }) => resolve(error.code === status.CANCELLED ? status.OK : error.code));
    stream.on("end", () => resolve(status.OK));
  });
}

function servicesUnderTest(): { service: DescService; client: Client }[] {
  const registry = descriptors();
  const { entitlements, pricing, ledger, notifications } = platform.clients;
  return [
    { service: registry.getService("tollgate.entitlements.v1.EntitlementsService")!, client: entitlements },
    { service: registry.getService("tollgate.pricing.v1.PricingService")!, client: pricing },
    { service: registry.getService("tollgate.ledger.v1.LedgerService")!, client: ledger },
    { service: registry.getService("tollgate.notifications.v1.NotificationsService")!, client: notifications },
  ];
}

it("random requests over every RPC: no INTERNAL or UNKNOWN, every service SERVING, the ledger's invariants hold", async () => {
  const targets = servicesUnderTest().flatMap(({ service, client }) => service.methods.map((method) => ({ method, client, path: `/${service.typeName}/${method.name}` })));
  expect(targets.length).toBeGreaterThanOrEqual(45);

  const failures: string[] = [];
  const codes = new Map<number, number>();
  const calls = Array.from({ length: COUNT }, (_, i) => {
    const target = targets[i % targets.length]!; // every RPC, in turn
    return { ...target, ...request(target.method.input) };
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls.length) {
        const { client, path, method, mode, bytes } = calls[next++]!;
        const code = await send(client, path, method.methodKind === "server_streaming", bytes);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === status.INTERNAL || code === status.UNKNOWN) failures.push(`${path} (${mode}) ${code}: ${Buffer.from(bytes).toString("base64")}`);
      }
    }),
  );
  console.log("answers by status code", Object.fromEntries([...codes].sort(([a], [b]) => a - b)));
  expect(failures, `seed ${SEED}`).toEqual([]);

  // Every service still answers its health check with SERVING (HealthCheckResponse.status = 1).
  for (const { service, client } of servicesUnderTest()) {
    const health = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", identity, identity, Buffer.alloc(0), new Metadata(), { deadline: Date.now() + 5_000 }, (error, response) =>
        error ? reject(error) : resolve(response!),
      ),
    );
    expect([...health], service.typeName).toEqual([0x08, 0x01]);
  }

  // The ledger's invariants, over every account: each pool's journal lines sum to its balance,
  // every entry balances, and each balance's held amount is what its open holds still reserve.
  const pools = await sql.query(
    `select p.pool_id from ledger.pools p left join ledger.lines l on l.pool_id = p.pool_id
      group by p.pool_id, p.balance_micros having p.balance_micros <> coalesce(sum(l.amount_micros), 0)`,
  );
  expect(pools.rows).toEqual([]);
  const unbalanced = await sql.query(`select entry_id from ledger.lines group by entry_id having sum(amount_micros) <> 0`);
  expect(unbalanced.rows).toEqual([]);
  const held = await sql.query(
    `select b.account_id, b.unit from ledger.balances b
      where b.held_micros <> (select coalesce(sum(greatest(amount_micros - charged_micros, 0)), 0) from ledger.holds h
                               where h.account_id = b.account_id and h.unit = b.unit and h.status = 'open')`,
  );
  expect(held.rows).toEqual([]);
}, 240_000);
