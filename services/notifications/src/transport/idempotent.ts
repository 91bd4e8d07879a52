import { trace } from "@opentelemetry/api";
import type { NotificationsStore } from "../data/notifications-store.js";
import { requestHash } from "../domain/idempotency.js";

/** A message type's JSON codec (what ts-proto generates beside each message). */
interface JsonCodec<T> {
  toJSON(message: T): unknown;
  fromJSON(object: unknown): T;
}

export interface Keyed<Req extends { idempotencyKey?: string | undefined }, Res> {
  /** Whose key it is: the account the request names, or that of the notification or banner it names. */
  accountId: string;
  /** The RPC, recorded with the key (e.g. `resend_notification`). */
  operation: string;
  request: Req;
  requestType: JsonCodec<Req>;
  responseType: JsonCodec<Res>;
}

/**
 * Answers a support change once per idempotency key (domain/idempotency.ts):
 * the first call makes the change and records its answer in the same
 * transaction; a repeat with the same request answers that record and writes
 * nothing (`replayed`, also the span's `tollgate.idempotent_replay`); another
 * request under the key is ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED). An empty
 * key (or none) makes the change with nothing recorded, as before keys were taken.
 */
export async function answerOnce<Req extends { idempotencyKey?: string | undefined }, Res>(
  store: NotificationsStore,
  call: Keyed<Req, Res>,
  change: () => Promise<Res>,
): Promise<{ response: Res; replayed: boolean }> {
  const key = call.request.idempotencyKey ?? "";
  if (!key) return { response: await change(), replayed: false };
  const keyed = { accountId: call.accountId, key, operation: call.operation, requestHash: requestHash(call.operation, call.requestType.toJSON(call.request) as Record<string, unknown>) };
  const { answer, replayed } = await store.once(keyed, async () => call.responseType.toJSON(await change()));
  trace.getActiveSpan()?.setAttribute("tollgate.idempotent_replay", replayed);
  // The first call answers what a repeat will: the recorded form.
  return { response: call.responseType.fromJSON(answer), replayed };
}
