import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { entitlementsV1, pricingV1 } from "@tollgate/proto";

/**
 * A catalogue file: rate tables, plans and accounts as the protobuf JSON of
 * their gRPC messages, loaded in that order through the public APIs (so the
 * services validate every field). A bad field fails with the file and the
 * field's path.
 */
export interface Catalogue {
  name: string;
  rateTables: unknown[];
  plans: unknown[];
  accounts: unknown[];
}

export class CatalogueError extends Error {}

const rateOneofs = ["modelReply", "modelToken", "block", "gpuHour", "cpuCoreHour", "hardwareProfileHour", "fineTuning", "activeMinute", "toolRun"];

export function readCatalogue(path: string): Catalogue {
  const document = parse(readFileSync(path, "utf8")) as Partial<Catalogue> | null;
  if (!document || typeof document !== "object") throw new CatalogueError(`${path}: not a YAML mapping`);
  for (const key of ["rateTables", "plans", "accounts"] as const) {
    if (document[key] !== undefined && !Array.isArray(document[key])) throw new CatalogueError(`${path}: ${key} must be a list`);
  }
  return { name: document.name ?? path, rateTables: document.rateTables ?? [], plans: document.plans ?? [], accounts: document.accounts ?? [] };
}

export interface CatalogueClients {
  entitlements: entitlementsV1.EntitlementsServiceClient;
  pricing: pricingV1.PricingServiceClient;
}

async function step<T>(path: string, where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const details = errorDetails(error);
    const field = details.fieldViolations[0]?.field;
    throw new CatalogueError(`${path}: ${where}${field ? `.${field.replace(/^(plan|rates)\.?/, "")}` : ""}: ${details.message ?? String(error)}`);
  }
}

/** Loads a catalogue; returns what it published. Accounts that already exist unchanged are kept. */
export async function loadCatalogue(path: string, clients: CatalogueClients, actor = "catalogue") {
  const catalogue = readCatalogue(path);
  const { pricing, entitlements } = clients;
  for (const [index, raw] of catalogue.rateTables.entries()) {
    const table = raw as { tableId?: string; effectiveFrom?: string; rates?: Record<string, unknown>[] };
    const rates = (table.rates ?? []).map((rate) => pricingV1.Rate.fromJSON(rate));
    (table.rates ?? []).forEach((rate, r) => {
      if (!rateOneofs.some((key) => key in rate)) throw new CatalogueError(`${path}: rateTables[${index}].rates[${r}]: a rate kind is required (one of ${rateOneofs.join(", ")})`);
    });
    await step(path, `rateTables[${index}]`, () =>
      call(pricing, pricing.publishRateTable, {
        tableId: table.tableId ?? "",
        effectiveFrom: table.effectiveFrom ? new Date(table.effectiveFrom) : new Date(Date.now() - 60_000),
        rates,
        actor,
        reason: `catalogue ${catalogue.name}`,
        idempotencyKey: "",
      }),
    );
  }
  for (const [index, raw] of catalogue.plans.entries()) {
    await step(path, `plans[${index}]`, () =>
      call(entitlements, entitlements.publishPlan, { plan: entitlementsV1.Plan.fromJSON(raw), actor, reason: `catalogue ${catalogue.name}` }),
    );
  }
  for (const [index, raw] of catalogue.accounts.entries()) {
    await step(path, `accounts[${index}]`, () =>
      call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromJSON({ cycleAnchor: "2026-01-01T00:00:00Z", ...(raw as object) })),
    );
  }
  return catalogue;
}
