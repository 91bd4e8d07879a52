import { log, withRemoteParent } from "@tollgate/telemetry";
import { elidedUrl } from "@tollgate/grpc-kit";
import { nextAttempt } from "../domain/rules.js";
import type { EmailChannel } from "./channels/email.js";
import type { WebhookChannel } from "./channels/webhook.js";
import type { Delivery } from "./delivery.entity.js";
import type { NotificationsStore } from "./notifications-store.js";

/** Sends in flight at once per replica. */
const SENDS_AT_ONCE = 10;

export type DeliveryOutcome = "delivered" | "failed" | "dead_letter";

export interface DeliveryWorkerOptions {
  pollMs: number;
  leaseMs: number;
  retryBaseMs: number;
  maxAttempts: number;
  /** How long one send may run in all (its lease renewed meanwhile); then it is given up as failed and retried later. Default 2 minutes. */
  sendDeadlineMs?: number;
}

/** A send's time in all, by default: an SMTP server trickling its answers inside each socket timeout would otherwise hold a slot for good. */
export const SEND_DEADLINE_MS = 2 * 60_000;

/**
 * Sends due deliveries. Rows are claimed with a lease (SKIP LOCKED), so
 * several replicas share the work without sending a row twice; a replica that
 * dies mid-send leaves its lease to expire and the row is retried. Failures
 * back off exponentially and end in dead_letter after maxAttempts.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Set during a tick by wake() or a send that ended (something to look at again); `nudge` ends the tick's wait for either. */
  private woken = false;
  private nudge: (() => void) | undefined;

  constructor(
    private readonly store: NotificationsStore,
    private readonly scope: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly channels: { email?: EmailChannel; webhook: WebhookChannel },
    private readonly webhookSecret: (accountId: string, url: string) => Promise<string | undefined>,
    private readonly options: DeliveryWorkerOptions,
    /** Told of every attempt's outcome (metrics). */
    private readonly observe: (channel: string, outcome: DeliveryOutcome) => void = () => {},
  ) {}

  /**
   * The channels this replica can send on. Without an SMTP server, emails are left pending for a replica that has one
   * (or this one restarted with SMTP_URL): claimed here they would fail every attempt and end as dead letters.
   */
  private get sendable(): readonly string[] {
    return this.channels.email ? ["email", "webhook"] : ["webhook"];
  }

  start(): void {
    this.schedule(0);
  }

  /** Looks for due work now (called when new deliveries were recorded). */
  wake(): void {
    if (!this.running) return this.schedule(0);
    // Mid-tick: claim again now rather than when a send ends (or at the next poll, were the claim under way to miss it).
    this.woken = true;
    this.nudge?.();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((error: unknown) => log().error({ err: error }, "delivery tick failed"))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.options.pollMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Sends up to SENDS_AT_ONCE at a time as a window, not in batches: each send
   * records its own outcome and frees its place when it ends, and the next due
   * row takes it. So a slow receiver (held to the webhook deadline) holds up
   * only its own delivery, not the emails and webhooks claimed beside it or
   * after it.
   */
  private async tick(): Promise<void> {
    const sending = new Set<Promise<void>>();
    try {
      for (;;) {
        const room = SENDS_AT_ONCE - sending.size;
        this.woken = false;
        const due = room > 0 && !this.stopped ? await this.scope(() => this.store.claimDue(room, this.options.leaseMs, this.sendable)) : [];
        for (const delivery of due) {
          const send: Promise<void> = this.deliver(delivery)
            // Its outcome could not be recorded: the lease expires and the row is sent again.
            .catch((error: unknown) => log().error({ err: error, notification_id: delivery.notificationId }, "recording a delivery's outcome failed"))
            .finally(() => {
              sending.delete(send);
              // A place is free: look again (set, not only resolved, so a place freed while a claim runs is not missed).
              this.woken = true;
              this.nudge?.();
            });
          sending.add(send);
        }
        // Nothing in flight and nothing new said since the claim began: done until the next poll or wake.
        if (sending.size === 0 && (!this.woken || this.stopped)) return;
        // A full claim may leave more due: claim again at once. Else wait for a place to free or new work (wake).
        if ((room === 0 || due.length < room) && !this.woken) await new Promise<void>((resolve) => (this.nudge = resolve));
      }
    } finally {
      // The tick (and so stop()) ends when every send it began has recorded its outcome, a failed claim included.
      await Promise.allSettled(sending);
    }
  }

  private deliver(delivery: Delivery): Promise<void> {
    return withRemoteParent("tollgate.notifications", `notifications.deliver ${delivery.channel}`, delivery.traceparent, async (span) => {
      span.setAttribute("tollgate.notification_id", delivery.notificationId);
      span.setAttribute("tollgate.rule", delivery.rule);
      span.setAttribute("tollgate.channel", delivery.channel);
      span.setAttribute("tollgate.attempt", delivery.attempts);
      let outcome: DeliveryOutcome;
      let recorded: boolean;
      try {
        await this.whileLeased(delivery, (signal) => this.send(delivery, signal));
        recorded = await this.scope(() => this.store.markDelivered(delivery.notificationId, delivery.attempts));
        outcome = "delivered";
      } catch (error) {
        const message = (error as Error).message || String(error);
        // A resent delivery's retries count from its resend.
        const next = nextAttempt(delivery.attempts - delivery.attemptsBeforeResend, this.options.retryBaseMs, this.options.maxAttempts);
        recorded = await this.scope(() => this.store.markFailed(delivery.notificationId, delivery.attempts, message, next.deadLetter ? null : new Date(Date.now() + next.delayMs)));
        span.setAttribute("tollgate.dead_letter", next.deadLetter);
        span.setAttribute("tollgate.delivery.error", message);
        outcome = next.deadLetter ? "dead_letter" : "failed";
      }
      if (!recorded) {
        // The send outlived its lease and another claim took the row: that claim's outcome stands, this one is not recorded.
        log().warn({ notification_id: delivery.notificationId, attempt: delivery.attempts, outcome }, "a delivery's lease ran out before its outcome was recorded");
        span.setAttribute("tollgate.delivery.lease_lost", true);
      }
      span.setAttribute("tollgate.delivery.outcome", outcome);
      this.observe(delivery.channel, outcome);
    });
  }

  /**
   * Runs a send while keeping its claim: the lease is renewed every third of it, so a send slower than the lease (an
   * SMTP server that answers each command just inside its timeout) is not claimed and sent again by another replica.
   * A replica that dies mid-send renews nothing, and its row is claimed again when the lease runs out. A send still
   * running at its deadline (`sendDeadlineMs`) fails this attempt: its slot is freed, its signal aborted (an email's
   * connection is closed) and the row retried later (an email may have been accepted just before; it carries its
   * notification id as Message-ID for receivers to de-duplicate).
   */
  private async whileLeased(delivery: Delivery, send: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const renew = setInterval(() => {
      this.scope(() => this.store.extendLease(delivery.notificationId, delivery.attempts, this.options.leaseMs)).catch((error: unknown) =>
        log().warn({ err: error, notification_id: delivery.notificationId }, "renewing a delivery's lease failed"),
      );
    }, this.options.leaseMs / 3);
    renew.unref();
    const deadlineMs = this.options.sendDeadlineMs ?? SEND_DEADLINE_MS;
    let deadline: NodeJS.Timeout | undefined;
    const abandon = new AbortController();
    const sending = send(abandon.signal);
    try {
      await Promise.race([
        sending,
        new Promise<never>((_, reject) => {
          deadline = setTimeout(() => {
            reject(new Error(`the send took longer than ${deadlineMs} ms: given up, to be tried again`));
            abandon.abort();
          }, deadlineMs);
        }),
      ]);
    } finally {
      clearInterval(renew);
      clearTimeout(deadline);
      sending.catch(() => undefined); // an abandoned send's own failure is no one's to handle
    }
  }

  private async send(delivery: Delivery, signal: AbortSignal): Promise<void> {
    const payload = delivery.payload as { type: string; subject: string; text: string; data: Record<string, unknown> };
    if (delivery.channel === "email") {
      if (!this.channels.email) throw new Error("no SMTP server configured (SMTP_URL)"); // not claimed without one (sendable)
      await this.channels.email.send({ to: delivery.recipient, subject: payload.subject, text: payload.text, notificationId: delivery.notificationId }, signal);
      return;
    }
    const secret = await this.scope(() => this.webhookSecret(delivery.accountId, delivery.recipient));
    // Its URL by its origin: the error is shown to every reader of the delivery log, and the path may be a token.
    if (!secret) throw new Error(`no secret for webhook ${elidedUrl(delivery.recipient)}`);
    await this.channels.webhook.send({
      url: delivery.recipient,
      secret,
      id: delivery.notificationId,
      type: payload.type,
      data: { account_id: delivery.accountId, ...payload.data },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.nudge?.();
    await this.running;
  }
}
