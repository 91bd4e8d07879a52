import { createHash, randomBytes } from "node:crypto";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { answerOnce, type IdempotencyStore } from "@tollgate/db";
import { actorOf, elidedUrl, encodedSize, newestFirstPage, pageScope, pageSize, PREFERENCE_READERS, requireKnownWhenEmpty, scopedToken, tokenCursor, tokenPosition, unary, type HandlerOptions } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1, notificationsV1 } from "@tollgate/proto";
import type { Banner } from "../data/banner.entity.js";
import type { Delivery, Preferences } from "../data/delivery.entity.js";
import type { DeliveryWorker } from "../data/delivery-worker.js";
import type { NotificationsStore, PreferencesChanges } from "../data/notifications-store.js";
import type { OutboundAddressPolicy } from "../data/channels/outbound-address.js";
import { ALWAYS_SENT_RULES, FIXED_RULES, isRuleName } from "../domain/rules.js";

/**
 * A rule's channels as preferences store them. Banners show whatever the
 * preferences say; a rule routed to `banner` alone sends no email or webhook.
 */
const CHANNEL_NAMES = new Map<notificationsV1.Channel, string>([
  [notificationsV1.Channel.CHANNEL_BANNER, "banner"],
  [notificationsV1.Channel.CHANNEL_EMAIL, "email"],
  [notificationsV1.Channel.CHANNEL_WEBHOOK, "webhook"],
]);
const CHANNELS_BY_NAME = new Map([...CHANNEL_NAMES].map(([channel, name]) => [name, channel]));

/** A rule a channel preference names, or INVALID_ARGUMENT naming it: a preference for a misspelt rule, or one always sent, would never apply. */
function ruleName(rule: string): string {
  if ((ALWAYS_SENT_RULES as readonly string[]).includes(rule)) {
    throw new InvalidArgumentError(`preferences.channels_by_rule[${JSON.stringify(rule)}]`, "is always sent to the admins and the chosen recipients by email and to every webhook: it takes no preference");
  }
  if (!isRuleName(rule)) {
    throw new InvalidArgumentError(`preferences.channels_by_rule[${JSON.stringify(rule)}]`, `is not a rule: one of ${FIXED_RULES.join(", ")}, usage_<percent> or budget_<percent>`);
  }
  return rule;
}

/** The fields of Preferences a SetPreferences may change (update_fields). */
const PREFERENCE_FIELDS: readonly string[] = ["email_recipients", "webhooks", "channels_by_rule"];

const N = notificationsV1;

function bannerToProto(banner: Banner): notificationsV1.Banner {
  return {
    bannerId: banner.bannerId,
    accountId: banner.accountId,
    rule: banner.rule,
    kind: banner.kind === "fixed" ? N.BannerKind.BANNER_KIND_FIXED : N.BannerKind.BANNER_KIND_DISMISSIBLE,
    message: banner.message,
    unit: banner.unit ? commonV1.unitFromJSON(`UNIT_${banner.unit.toUpperCase()}`) : commonV1.Unit.UNIT_UNSPECIFIED,
    thresholdPercent: banner.thresholdPercent,
    createdAt: banner.createdAt,
    dismissed: banner.dismissedAt !== null && banner.dismissedAt !== undefined,
  };
}

const STATUS: Record<string, notificationsV1.DeliveryStatus> = {
  pending: N.DeliveryStatus.DELIVERY_STATUS_PENDING,
  sending: N.DeliveryStatus.DELIVERY_STATUS_PENDING,
  failed: N.DeliveryStatus.DELIVERY_STATUS_FAILED,
  delivered: N.DeliveryStatus.DELIVERY_STATUS_DELIVERED,
  dead_letter: N.DeliveryStatus.DELIVERY_STATUS_DEAD_LETTER,
};

function deliveryToProto(delivery: Delivery): notificationsV1.Notification {
  return {
    notificationId: delivery.notificationId,
    accountId: delivery.accountId,
    channel: delivery.channel === "email" ? N.Channel.CHANNEL_EMAIL : N.Channel.CHANNEL_WEBHOOK,
    recipient: delivery.recipient,
    rule: delivery.rule,
    status: STATUS[delivery.status] ?? N.DeliveryStatus.DELIVERY_STATUS_UNSPECIFIED,
    attempts: delivery.attempts,
    lastError: delivery.lastError,
    traceId: delivery.traceId,
    createdAt: delivery.createdAt,
    deliveredAt: delivery.deliveredAt ?? undefined,
  };
}

const FINGERPRINT = "sha256:";

/** Names a stored signing secret without revealing it: `sha256:` and the first 16 hex digits of its hash. */
/** The receiver a webhook URL names, for telling two spellings of one endpoint apart from two endpoints (the text as sent when it is no URL). */
function endpointOf(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.hostname = parsed.hostname.replace(/\.$/, "");
    return parsed.href;
  } catch {
    return url;
  }
}

export function fingerprint(secret: string): string {
  return `${FINGERPRINT}${createHash("sha256").update(secret).digest("hex").slice(0, 16)}`;
}

function preferencesToProto(accountId: string, preferences: Preferences | null): notificationsV1.Preferences {
  return {
    accountId,
    emailRecipients: preferences?.emailRecipients ?? [],
    // Secrets are write-only: answered as a fingerprint, never the secret or part of it.
    webhooks: (preferences?.webhooks ?? []).map((w) => ({ url: w.url, secret: fingerprint(w.secret) })),
    channelsByRule: Object.fromEntries(
      Object.entries(preferences?.channelsByRule ?? {}).map(([rule, channels]) => [
        rule,
        { channels: channels.map((c) => CHANNELS_BY_NAME.get(c) ?? N.Channel.CHANNEL_UNSPECIFIED) },
      ]),
    ),
  };
}

/** The ledger's view of an account's state that is served beside its banners (the icon is computed in the ledger only). */
export type AccountState = (accountId: string) => Promise<{ statusIcon: ledgerV1.StatusIcon; willRunOut: boolean; prompts: { upgrade: boolean; referral: boolean } }>;

export function notificationsHandlers(
  store: NotificationsStore,
  /** The answers of keyed resends, dismissals and preference changes (IDEMPOTENCY_KEYS). */
  idempotency: IdempotencyStore,
  worker: DeliveryWorker,
  accountState: AccountState,
  options: HandlerOptions,
  webhookAddresses: OutboundAddressPolicy,
  /** Refuses an account the platform does not have (NOT_FOUND). */
  requireAccount: (accountId: string) => Promise<void>,
): Partial<notificationsV1.NotificationsServiceServer> {
  return {
    listBanners: unary(async (request: notificationsV1.ListBannersRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const [banners, state] = await Promise.all([store.banners(request.accountId, request.includeDismissed), accountState(request.accountId)]);
      return {
        banners: banners.map(bannerToProto), statusIcon: state.statusIcon, willRunOutBeforeCycleEnd: state.willRunOut,
        showUpgradePrompt: state.prompts.upgrade, showReferralPrompt: state.prompts.referral,
      };
    }, options),

    dismissBanner: unary(async (request: notificationsV1.DismissBannerRequest, context) => {
      if (!request.bannerId) throw new InvalidArgumentError("banner_id", "is required");
      const { actor } = actorOf(context, request.actor);
      if (!actor) throw new InvalidArgumentError("actor", "is required");
      const banner = await store.banner(request.bannerId);
      // A banner of another account than the one named is not there for this caller (whose credential may be limited to that one).
      if (!banner || (request.accountId !== "" && banner.accountId !== request.accountId)) throw new NotFoundError("banner", request.bannerId);
      if (banner.kind === "fixed") throw new FailedPreconditionError("fixed banners cannot be dismissed", "BANNER_FIXED", { banner_id: banner.bannerId });
      const keyed = { scope: banner.accountId, operation: "dismiss_banner", request, requestType: N.DismissBannerRequest, responseType: N.DismissBannerResponse };
      const { response } = await answerOnce(idempotency, keyed, async () => {
        const dismissed = await store.dismiss(banner.bannerId, actor);
        if (!dismissed) throw new NotFoundError("banner", request.bannerId);
        return { banner: bannerToProto(dismissed) };
      });
      return response;
    }, options),

    listNotifications: unary(async (request: notificationsV1.ListNotificationsRequest, context) => {
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListNotifications", request);
      const after = tokenCursor(tokenPosition(scope, request.page?.pageToken), "uuid");
      const rows = await store.deliveries({ accountId: request.accountId, traceId: request.traceId, ...(after ? { after } : {}), limit: limit + 1 });
      await requireKnownWhenEmpty(requireAccount, request.accountId, rows);
      // A webhook's URL may carry its receiver's token: in full only to those who may read preferences (GetPreferences'
      // roles), by its origin to any other reader (a product's meter credential).
      const full = !context.principal || context.principal.roles.some((role) => PREFERENCE_READERS.includes(role));
      const shown = (item: Delivery) => (full || item.channel !== "webhook" ? item : { ...item, recipient: elidedUrl(item.recipient) });
      const protos = rows.map(({ item, cursor }) => ({ item: deliveryToProto(shown(item)), cursor }));
      const { items, nextPageToken } = newestFirstPage(protos, limit, encodedSize(notificationsV1.Notification));
      return { notifications: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    resendNotification: unary(async (request: notificationsV1.ResendNotificationRequest, context) => {
      if (!request.notificationId) throw new InvalidArgumentError("notification_id", "is required");
      if (!actorOf(context, request.actor).actor) throw new InvalidArgumentError("actor", "is required");
      // Keys are the notification's account's; an unknown notification is NOT_FOUND before any key is looked at.
      const known = await store.delivery(request.notificationId);
      if (!known) throw new NotFoundError("notification", request.notificationId);
      const keyed = { scope: known.accountId, operation: "resend_notification", request, requestType: N.ResendNotificationRequest, responseType: N.ResendNotificationResponse };
      const { response, replayed } = await answerOnce(idempotency, keyed, async () => {
        const delivery = await store.resend(request.notificationId);
        if (!delivery) throw new NotFoundError("notification", request.notificationId);
        return { notification: deliveryToProto(delivery) };
      });
      // A replay sent nothing: the first call's resend is (or was) the worker's already.
      if (!replayed) worker.wake();
      return response;
    }, options),

    getPreferences: unary(async (request: notificationsV1.GetPreferencesRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const preferences = await store.preferences(request.accountId);
      // None saved: the defaults, for an account that exists.
      if (!preferences) await requireAccount(request.accountId);
      return { preferences: preferencesToProto(request.accountId, preferences) };
    }, options),

    setPreferences: unary(async (request: notificationsV1.SetPreferencesRequest) => {
      const p = request.preferences;
      if (!p?.accountId) throw new InvalidArgumentError("preferences.account_id", "is required");
      const fields = request.updateFields.length > 0 ? request.updateFields : PREFERENCE_FIELDS;
      fields.forEach((field, i) => {
        if (!PREFERENCE_FIELDS.includes(field)) throw new InvalidArgumentError(`update_fields[${i}]`, `must be one of ${PREFERENCE_FIELDS.join(", ")}`);
      });
      const changes: PreferencesChanges = {};
      if (fields.includes("email_recipients")) {
        // Each is one plain email address (grpc-kit's request rules refused anything else); once each, whatever its case.
        p.emailRecipients.forEach((email, i) => {
          const first = p.emailRecipients.findIndex((other) => other.toLowerCase() === email.toLowerCase());
          if (first < i) throw new InvalidArgumentError(`preferences.email_recipients[${i}]`, `repeats email_recipients[${first}] (${p.emailRecipients[first]})`);
        });
        changes.emailRecipients = p.emailRecipients;
      }
      await requireAccount(p.accountId);
      if (fields.includes("webhooks")) {
        // One endpoint is one URL however it is spelt: host case, a default port or a trailing dot name the same receiver.
        const endpoints = p.webhooks.map((w) => endpointOf(w.url));
        p.webhooks.forEach((w, i) => {
          const first = endpoints.indexOf(endpoints[i]!);
          if (first < i) throw new InvalidArgumentError(`preferences.webhooks[${i}].url`, `repeats webhooks[${first}]: one endpoint, one secret`);
        });
        changes.webhooks = p.webhooks.map((w, i) => {
          let url: URL;
          try {
            url = new URL(w.url);
          } catch {
            throw new InvalidArgumentError(`preferences.webhooks[${i}].url`, "not a URL");
          }
          if (!["http:", "https:"].includes(url.protocol)) throw new InvalidArgumentError(`preferences.webhooks[${i}].url`, "must be http or https");
          if (url.port === "0") throw new InvalidArgumentError(`preferences.webhooks[${i}].url`, "must not name port 0: no server listens there");
          // The URL is shown to support (GetPreferences, ListNotifications), by its origin to others: it cannot hold a
          // password. Receivers authenticate the sender by the signature.
          if (url.username || url.password) throw new InvalidArgumentError(`preferences.webhooks[${i}].url`, "must not carry a user name or password (user:password@); receivers check the webhook signature instead");
          // The sender's rules, at save time: a webhook cannot be aimed inward.
          const refused = webhookAddresses.refusesHost(url);
          if (refused) throw new InvalidArgumentError(`preferences.webhooks[${i}].url`, `must not reach inward: ${refused}`);
          // Keep a known endpoint's secret when none (or its fingerprint) is sent, else one made here: the store resolves
          // which under the row's lock (a candidate is made for each, used for a new endpoint only).
          const sent = w.secret && !w.secret.startsWith(FINGERPRINT) && !w.secret.endsWith("…") ? w.secret : undefined;
          if (sent === undefined) return { url: w.url, secret: `whsec_${randomBytes(24).toString("base64")}`, keep: true };
          if (!/^whsec_[A-Za-z0-9+/=]+$/.test(sent)) throw new InvalidArgumentError(`preferences.webhooks[${i}].secret`, "must be whsec_ followed by base64");
          // A secret sent is as strong as one made here (24 random bytes): its fingerprint is shown to every reader, and a
          // short one could be found from it offline and webhooks forged. Secrets stored before this rule are kept as they are.
          const bytes = Buffer.from(sent.slice("whsec_".length), "base64").length;
          if (bytes < 24 || bytes > 64) {
            throw new InvalidArgumentError(`preferences.webhooks[${i}].secret`, `must be whsec_ followed by the base64 of 24 to 64 random bytes (this is ${bytes})`);
          }
          return { url: w.url, secret: sent };
        });
      }
      if (fields.includes("channels_by_rule")) {
        changes.channelsByRule = Object.fromEntries(
          Object.entries(p.channelsByRule).map(([rule, set]) => [
            ruleName(rule),
            set.channels.map((channel, i) => {
              const name = CHANNEL_NAMES.get(channel);
              if (!name) throw new InvalidArgumentError(`preferences.channels_by_rule[${JSON.stringify(rule)}].channels[${i}]`, "must be CHANNEL_BANNER, CHANNEL_EMAIL or CHANNEL_WEBHOOK");
              return name;
            }),
          ]),
        );
      }
      // The key binds what is written. With update_fields that is the fields named: a retry of the console's "save email
      // recipients" resends the webhooks it read before, which may have changed since and are not written, so they do
      // not make it another request. Without, the whole request (as keys were first recorded).
      const written = request.updateFields.length === 0 ? request : {
        ...request,
        preferences: N.Preferences.fromPartial({
          accountId: p.accountId,
          ...(fields.includes("email_recipients") ? { emailRecipients: p.emailRecipients } : {}),
          ...(fields.includes("webhooks") ? { webhooks: p.webhooks } : {}),
          ...(fields.includes("channels_by_rule") ? { channelsByRule: p.channelsByRule } : {}),
        }),
      };
      // A key recorded before this rule (the whole request) still replays its own request.
      const keyed = {
        scope: p.accountId, operation: "set_preferences", request: written, ...(written === request ? {} : { earlierRequest: request }),
        requestType: N.SetPreferencesRequest, responseType: N.SetPreferencesResponse,
      };
      // The secrets made here that were stored (for endpoints the row had no secret for): the only way their owner learns them.
      let generated: notificationsV1.WebhookEndpoint[] = [];
      const { response, replayed } = await answerOnce(idempotency, keyed, async () => {
        const saved = await store.savePreferences(p.accountId, changes);
        const candidates = (changes.webhooks ?? []).filter((w) => w.keep);
        generated = (saved.webhooks ?? []).filter((w) => candidates.some((c) => c.url === w.url && c.secret === w.secret));
        return { preferences: preferencesToProto(p.accountId, saved.preferences), generatedSecrets: [] };
      });
      // Added after the answer is recorded, so no secret is kept with the key. A replay saved nothing: the secrets made
      // for it were never stored, and the first call's were answered once, by that call.
      return replayed ? response : { ...response, generatedSecrets: generated };
    }, options),
  };
}
