import { describe, expect, it } from "vitest";
import { notificationsV1 } from "@tollgate/proto";
import { notificationView, webhookAddress } from "./views.js";

describe("webhook addresses in the console", () => {
  it("shows the origin only, the path and query elided, with a fingerprint of the whole URL", () => {
    const chat = webhookAddress("https://hooks.chat.example/services/T0001/B0002/s3cr3tT0k3n");
    expect(chat.url).toBe("https://hooks.chat.example/…");
    expect(chat.url_fingerprint).toMatch(/^sha256:[0-9a-f]{16}$/);
    // Credentials in the authority never show; a bare origin is shown as it is.
    expect(webhookAddress("https://user:pass@receiver.example:8443/").url).toBe("https://receiver.example:8443");
    expect(webhookAddress("https://receiver.example/?token=abc").url).toBe("https://receiver.example/…");
    // Two URLs on one host differ by their fingerprints.
    expect(webhookAddress("https://hooks.chat.example/a").url_fingerprint).not.toBe(webhookAddress("https://hooks.chat.example/b").url_fingerprint);
    expect(webhookAddress("not a url").url).toBe("(not a URL)");
  });

  it("shows a webhook delivery's recipient by its origin, and an email's as it is", () => {
    const sent = (channel: notificationsV1.Channel, recipient: string) => notificationView(notificationsV1.Notification.fromPartial({ notificationId: "n", channel, recipient }));
    expect(sent(notificationsV1.Channel.CHANNEL_WEBHOOK, "https://hooks.chat.example/services/s3cr3t").recipient).toBe("https://hooks.chat.example/…");
    expect(sent(notificationsV1.Channel.CHANNEL_EMAIL, "ops@acme.example").recipient).toBe("ops@acme.example");
  });
});
