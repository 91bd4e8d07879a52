import { Webhook } from "standardwebhooks";

export interface WebhookMessage {
  url: string;
  secret: string;
  /** Stable across retries, so receivers can de-duplicate (`webhook-id`). */
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** Posts events signed per the Standard Webhooks scheme. Any non-2xx answer is a failure. */
export class WebhookChannel {
  constructor(private readonly timeoutMs = 10_000) {}

  async send(message: WebhookMessage): Promise<void> {
    const timestamp = new Date();
    const body = JSON.stringify({ type: message.type, timestamp: timestamp.toISOString(), data: message.data });
    const signature = new Webhook(message.secret).sign(message.id, timestamp, body);
    const response = await fetch(message.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": message.id,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${new URL(message.url).host}`);
  }
}
