import type { Meter } from "@tollgate/telemetry";
import type { DeliveryOutcome } from "./data/delivery-worker.js";

export interface NotificationsMetricSources {
  /** Ledger events sent but not yet recorded (the consumer's outbox lag). */
  outboxLag: () => number;
}

/** Every instrument of the notifications service, made in one place. */
export class NotificationsMetrics {
  private readonly counters: Record<DeliveryOutcome, { add(value: number, attributes: Record<string, string>): void }>;

  constructor(meter: Meter, sources: NotificationsMetricSources) {
    this.counters = {
      delivered: meter.createCounter("tollgate.notifications.deliveries", { description: "Emails and webhooks delivered, by channel", unit: "{delivery}" }),
      failed: meter.createCounter("tollgate.notifications.delivery_failures", {
        description: "Failed delivery attempts that will be retried, by channel",
        unit: "{attempt}",
      }),
      dead_letter: meter.createCounter("tollgate.notifications.dead_letters", {
        description: "Deliveries given up after their last attempt, by channel",
        unit: "{delivery}",
      }),
    };
    meter
      .createObservableGauge("tollgate.notifications.outbox_lag", {
        description: "Ledger events not yet recorded by the notifications consumer (latest sequence sent minus stored offset)",
        unit: "{event}",
      })
      .addCallback((result) => result.observe(sources.outboxLag()));
  }

  delivery(channel: string, outcome: DeliveryOutcome): void {
    this.counters[outcome].add(1, { "tollgate.channel": channel });
  }
}
