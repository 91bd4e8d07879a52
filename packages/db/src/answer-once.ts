import { trace } from "@opentelemetry/api";
import { checkKey, requestHash } from "./idempotency.js";
import type { IdempotencyStore } from "./idempotency-store.js";

/** A message type's JSON codec (what ts-proto generates beside each message). */
interface JsonCodec<T> {
  toJSON(message: T): unknown;
  fromJSON(object: unknown): T;
}

export interface AnswerOnce<Req, Res> {
  /** The RPC's name, recorded with the key (e.g. `PublishRateTable`, `resend_notification`). */
  operation: string;
  /** Whose keys, as the service names them (e.g. `table:<table id>`, `account:<account id>`). */
  scope: string;
  request: Req & { idempotencyKey?: string | undefined };
  /** The request as an earlier release fingerprinted it, when this one fingerprints less of it: a key it recorded still replays. */
  earlierRequest?: Req;
  requestType: JsonCodec<Req>;
  responseType: JsonCodec<Res>;
}

/**
 * Answers a mutating call once per idempotency key (idempotency.ts): the
 * first call makes the change and records its answer in the same
 * transaction; a repeat with the same request answers that record and writes
 * nothing (`replayed`, also the span's `tollgate.idempotent_replay`); another
 * request under the key is ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED). An empty
 * key (or none) makes the change with nothing recorded, as before keys were
 * honoured.
 */
export async function answerOnce<Req, Res>(store: IdempotencyStore, call: AnswerOnce<Req, Res>, change: () => Promise<Res>): Promise<{ response: Res; replayed: boolean }> {
  const key = call.request.idempotencyKey ?? "";
  if (!key) return { response: await change(), replayed: false };
  checkKey(key);
  const hashOf = (request: Req) => requestHash(call.requestType.toJSON(request) as Record<string, unknown>, store.hashOperation ? call.operation : undefined);
  const keyed = {
    scope: call.scope, key, operation: call.operation, requestHash: hashOf(call.request),
    ...(call.earlierRequest ? { earlierHashes: [hashOf(call.earlierRequest)] } : {}),
  };
  const { answer, replayed } = await store.once(keyed, async () => call.responseType.toJSON(await change()));
  trace.getActiveSpan()?.setAttribute("tollgate.idempotent_replay", replayed);
  // The first call answers what a repeat will: the recorded form.
  return { response: call.responseType.fromJSON(answer), replayed };
}
