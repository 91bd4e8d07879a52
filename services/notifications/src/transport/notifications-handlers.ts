import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { unary, type HandlerOptions } from "@tollgate/grpc-kit";
import { commonV1, notificationsV1 } from "@tollgate/proto";
import type { Banner } from "../data/banner.entity.js";
import type { NotificationsStore } from "../data/notifications-store.js";

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

export function notificationsHandlers(store: NotificationsStore, options: HandlerOptions): Partial<notificationsV1.NotificationsServiceServer> {
  return {
    listBanners: unary(async (request: notificationsV1.ListBannersRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      return { banners: (await store.banners(request.accountId, request.includeDismissed)).map(bannerToProto) };
    }, options),

    dismissBanner: unary(async (request: notificationsV1.DismissBannerRequest) => {
      if (!request.bannerId) throw new InvalidArgumentError("banner_id", "is required");
      if (!request.actor) throw new InvalidArgumentError("actor", "is required");
      const banner = await store.banner(request.bannerId);
      if (!banner) throw new NotFoundError("banner", request.bannerId);
      if (banner.kind === "fixed") throw new FailedPreconditionError("fixed banners cannot be dismissed", "BANNER_FIXED", { banner_id: banner.bannerId });
      return { banner: bannerToProto(await store.dismiss(banner, request.actor)) };
    }, options),
  };
}
