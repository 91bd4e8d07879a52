import { describe, expect, it } from "vitest";
import { entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { ACCESS } from "./access.js";

const definitions = [
  entitlementsV1.EntitlementsServiceService,
  pricingV1.PricingServiceService,
  ledgerV1.LedgerServiceService,
  notificationsV1.NotificationsServiceService,
];
const paths = definitions.flatMap((definition) => Object.values(definition).map((method) => method.path));

describe("the access table", () => {
  it("names the roles of every RPC of the four services", () => {
    expect(paths.filter((path) => !(path in ACCESS))).toEqual([]);
  });

  it("names no RPC the services do not have", () => {
    expect(Object.keys(ACCESS).filter((path) => !paths.includes(path))).toEqual([]);
  });

  it("gives each RPC roles", () => {
    expect(Object.entries(ACCESS).filter(([, access]) => access.roles.length === 0)).toEqual([]);
  });
});
