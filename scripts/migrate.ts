// Brings every service's schema up to date and exits: what the Kubernetes
// migration Job runs before the Deployments roll out (services also migrate
// at start, so this only moves the work ahead of the rollout).
import { CallAuditLog, openDatabase } from "@tollgate/db";
import { AccountSchema } from "../services/entitlements/src/data/account.entity.js";
import { migrations as entitlementsMigrations } from "../services/entitlements/src/data/migrations/index.js";
import { PlanVersionSchema } from "../services/entitlements/src/data/plan-version.entity.js";
import { SubjectSchema } from "../services/entitlements/src/data/subject.entity.js";
import { AuditEntrySchema } from "../services/gateway/src/data/audit.entity.js";
import { migrations as gatewayMigrations } from "../services/gateway/src/data/migrations/index.js";
import { ledgerEntities } from "../services/ledger/src/data/entities.js";
import { migrations as ledgerMigrations } from "../services/ledger/src/data/migrations/index.js";
import { BannerSchema, ConsumerOffsetSchema } from "../services/notifications/src/data/banner.entity.js";
import { DeliverySchema, PreferencesSchema } from "../services/notifications/src/data/delivery.entity.js";
import { migrations as notificationsMigrations } from "../services/notifications/src/data/migrations/index.js";
import { migrations as pricingMigrations } from "../services/pricing/src/data/migrations/index.js";
import { RateTableVersionSchema } from "../services/pricing/src/data/rate-table-version.entity.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is required");

const schemas = [
  { schema: "entitlements", entities: [PlanVersionSchema, AccountSchema, SubjectSchema], migrations: entitlementsMigrations },
  { schema: "pricing", entities: [RateTableVersionSchema], migrations: pricingMigrations },
  { schema: "ledger", entities: ledgerEntities, migrations: ledgerMigrations },
  { schema: "notifications", entities: [BannerSchema, ConsumerOffsetSchema, DeliverySchema, PreferencesSchema], migrations: notificationsMigrations },
  { schema: "gateway", entities: [AuditEntrySchema], migrations: gatewayMigrations },
];
for (const { schema, entities, migrations } of schemas) {
  const orm = await openDatabase({ url, schema, entities, migrations, poolMax: 1 });
  await orm.close();
  console.log(`${schema}: up to date`);
}
// The call audit log every service and the gateway write to (each also brings it up to date when it opens it).
await (await CallAuditLog.open(url)).close();
console.log("audit: up to date");
