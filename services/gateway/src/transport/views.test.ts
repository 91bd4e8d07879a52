import { describe, expect, it } from "vitest";
import { notificationsV1 } from "@tollgate/proto";
import { notificationView, preferencesView } from "./views.js";

describe("webhook addresses in the console", () => {
  it("shows a webhook by its origin, the path and query elided (they may be the credential), and no credentials in the authority", () => {
    const shown = preferencesView(notificationsV1.Preferences.fromPartial({
      accountId: "a",
      webhooks: ["https://hooks.chat.example/services/T0001/B0002/s3cr3tT0k3n", "https://user:pass@receiver.example:8443/", "https://receiver.example/?token=abc", "not a url"].map((url) => ({ url, secret: "sha256:0123456789abcdef" })),
    }));
    expect(shown.webhooks.map((w) => w.url)).toEqual(["https://hooks.chat.example/…", "https://receiver.example:8443", "https://receiver.example/…", "not a url"]);
  });

  it("shows a webhook delivery's recipient by its origin, and an email's as it is", () => {
    const sent = (channel: notificationsV1.Channel, recipient: string) => notificationView(notificationsV1.Notification.fromPartial({ notificationId: "n", channel, recipient }));
    expect(sent(notificationsV1.Channel.CHANNEL_WEBHOOK, "https://hooks.chat.example/services/s3cr3t").recipient).toBe("https://hooks.chat.example/…");
    expect(sent(notificationsV1.Channel.CHANNEL_EMAIL, "ops@acme.example").recipient).toBe("ops@acme.example");
  });
});
