import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { parse } from "yaml";
import { InvalidArgumentError } from "@tollgate/errors";
import { call, errorDetails, fromProtoJson, jsonFieldPath } from "@tollgate/grpc-kit";
import { entitlementsV1, pricingV1 } from "@tollgate/proto";

/**
 * A catalogue file: rate tables, plans and accounts as the protobuf JSON of
 * their gRPC messages, read strictly (a misspelt key or an unknown enum value
 * is an error, not dropped) and loaded in that order through the public APIs
 * (so the services validate every field). A bad field fails with the file
 * and the field's path.
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
    // Refused here (the strict JSON reader) or by the service.
    const { field: named, message } =
      error instanceof InvalidArgumentError
        ? { field: error.field, message: error.problem }
        : (({ fieldViolations, message }) => ({ field: fieldViolations[0]?.field, message: message ?? String(error) }))(errorDetails(error));
    // The field within the item `where` names (a request's own wrapper, `plan.` or `account.`, left out), as the YAML writes it.
    const field = named === undefined ? undefined : jsonFieldPath(named.replace(/^(plan|account)(\.|$)/, ""));
    throw new CatalogueError(`${path}: ${where}${field ? `.${field}` : ""}: ${message}`);
  }
}

/** Loads a catalogue; returns what it published. Accounts that already exist unchanged are kept. */
async function exists(entitlements: entitlementsV1.EntitlementsServiceClient, accountId: string): Promise<boolean> {
  try {
    await call(entitlements, entitlements.getAccount, { accountId });
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === status.NOT_FOUND) return false;
    throw error;
  }
}

/**
 * `cycleAnchor`: where the accounts' billing cycles start when the catalogue
 * names none (the 1st of a month by default).
 */
export async function loadCatalogue(path: string, clients: CatalogueClients, actor = "catalogue", options: { cycleAnchor?: Date } = {}) {
  const cycleAnchor = (options.cycleAnchor ?? new Date("2026-01-01T00:00:00Z")).toISOString();
  const catalogue = readCatalogue(path);
  const { pricing, entitlements } = clients;
  for (const [index, raw] of catalogue.rateTables.entries()) {
    const table = raw as { tableId?: string; effectiveFrom?: string; rates?: Record<string, unknown>[] };
    (table.rates ?? []).forEach((rate, r) => {
      if (!rateOneofs.some((key) => key in rate)) throw new CatalogueError(`${path}: rateTables[${index}].rates[${r}]: a rate kind is required (one of ${rateOneofs.join(", ")})`);
    });
    await step(path, `rateTables[${index}]`, () =>
      call(pricing, pricing.publishRateTable, {
        tableId: table.tableId ?? "",
        effectiveFrom: table.effectiveFrom ? new Date(table.effectiveFrom) : new Date(Date.now() - 60_000),
        rates: (table.rates ?? []).map((rate, r) => fromProtoJson("tollgate.pricing.v1.Rate", rate, pricingV1.Rate.decode, `rates[${r}]`)),
        actor,
        reason: `catalogue ${catalogue.name}`,
        idempotencyKey: "",
      }),
    );
  }
  for (const [index, raw] of catalogue.plans.entries()) {
    await step(path, `plans[${index}]`, () =>
      call(entitlements, entitlements.publishPlan, { plan: fromProtoJson("tollgate.entitlements.v1.Plan", raw, entitlementsV1.Plan.decode, "plan"), actor, reason: `catalogue ${catalogue.name}` }),
    );
  }
  for (const [index, raw] of catalogue.accounts.entries()) {
    const request = await step(path, `accounts[${index}]`, async () =>
      fromProtoJson("tollgate.entitlements.v1.CreateAccountRequest", { cycleAnchor, ...(raw as object) }, entitlementsV1.CreateAccountRequest.decode, "account"),
    );
    // An anchor given per run (npm start's, from today) differs on another day: an account made then is kept as it is.
    if (options.cycleAnchor && (await exists(entitlements, request.accountId))) continue;
    await step(path, `accounts[${index}]`, () => call(entitlements, entitlements.createAccount, request));
  }
  return catalogue;
}
