import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { Webhook } from "standardwebhooks";
import { OutboundAddressPolicy } from "./outbound-address.js";

export interface WebhookMessage {
  url: string;
  secret: string;
  /** Stable across retries, so receivers can de-duplicate (`webhook-id`). */
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export interface WebhookChannelOptions {
  /** The most one send may take, first lookup to last byte of the answer (default 10 s). Well under the delivery worker's lease (30 s), so no other replica claims a row still being sent. */
  timeoutMs?: number;
  /** Networks (`127.0.0.0/8`) webhooks may reach although they are loopback, private or link-local (tests, an internal receiver). */
  allowedNetworks?: string[];
}

/**
 * Posts events signed per the Standard Webhooks scheme. Any non-2xx answer is
 * a failure, redirects included (never followed). The address connected to is
 * checked when the connection is made (after DNS, so a name that resolves
 * inward, or is re-pointed there, is refused too): loopback, private,
 * link-local and reserved ranges are refused unless allowed.
 */
export class WebhookChannel {
  private readonly policy: OutboundAddressPolicy;
  private readonly timeoutMs: number;

  constructor(options: WebhookChannelOptions = {}) {
    this.policy = new OutboundAddressPolicy(options.allowedNetworks);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async send(message: WebhookMessage): Promise<void> {
    const url = new URL(message.url);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`webhook URL scheme ${url.protocol} is not http or https`);
    const refused = this.policy.refusesLiteral(url);
    if (refused) throw new Error(`webhook address ${refused}`);

    const timestamp = new Date();
    const body = JSON.stringify({ type: message.type, timestamp: timestamp.toISOString(), data: message.data });
    const signature = new Webhook(message.secret).sign(message.id, timestamp, body);
    const status = await this.post(url, body, {
      "content-type": "application/json",
      "webhook-id": message.id,
      "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
      "webhook-signature": signature,
    });
    if (status >= 300 && status < 400) throw new Error(`HTTP ${status} from ${url.host} (redirects are not followed)`);
    if (status < 200 || status >= 300) throw new Error(`HTTP ${status} from ${url.host}`);
  }

  /** Resolves like the system does, then refuses every inward address before a connection is opened. */
  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const refused = addresses.find((a) => !this.policy.permits(a.address));
      if (refused || addresses.length === 0) {
        // The message becomes the delivery's last_error, which whoever can set a webhook reads: it says what kind of
        // address the name led to, never the address (that would map the inside for them).
        const why = refused ? "a loopback, private, link-local or reserved address" : "no address";
        return callback(Object.assign(new Error(`webhook host ${hostname} resolves to ${why}`), { code: "EADDRNOTAVAIL" }), "", 0);
      }
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

  /**
   * One deadline for the whole exchange: lookup, connect, TLS, the answer and
   * its body. (`timeout` on the request is an idle timeout: a receiver sending
   * a byte every few seconds would hold the send, and its lease, for ever.)
   */
  private post(url: URL, body: string, headers: Record<string, string>): Promise<number> {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const options: RequestOptions = { method: "POST", headers: { ...headers, "content-length": String(Buffer.byteLength(body)) }, lookup: this.lookup };
    let deadline: NodeJS.Timeout | undefined;
    return new Promise<number>((resolve, reject) => {
      const req = request(url, options, (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", reject);
      });
      // Rejects itself rather than through the request's events, which differ by the stage the exchange is at.
      deadline = setTimeout(() => {
        reject(new Error(`no complete answer from ${url.host} within ${this.timeoutMs} ms`));
        req.destroy();
      }, this.timeoutMs);
      req.on("error", reject);
      req.end(body);
    }).finally(() => clearTimeout(deadline));
  }
}
