/** The kinds of work, named once (tollgate.common.v1.WorkKind), as the services and plans spell them. */
import { commonV1 } from "@tollgate/proto";

export const WORK_KINDS = ["model_reply", "tool_run", "guardrail", "custom_script", "model_hosting", "fine_tuning", "agent_run"] as const;
/** A kind of work, or "" for none named (the unit's limits apply). */
export type WorkKind = (typeof WORK_KINDS)[number] | "";

const PREFIX = "WORK_KIND_";

/** The request validator admits declared values only; anything else reads as none named. */
export function workKindFromProto(kind: commonV1.WorkKind | undefined): WorkKind {
  if (!kind) return "";
  const name = commonV1.workKindToJSON(kind);
  return name.startsWith(PREFIX) ? (name.slice(PREFIX.length).toLowerCase() as WorkKind) : "";
}

export function workKindToProto(kind: string | undefined): commonV1.WorkKind {
  return kind && (WORK_KINDS as readonly string[]).includes(kind) ? commonV1.workKindFromJSON(`${PREFIX}${kind.toUpperCase()}`) : commonV1.WorkKind.WORK_KIND_UNSPECIFIED;
}

/** The kind in words for people: "custom script", "model hosting". */
export function workKindLabel(kind: string): string {
  return kind.replace(/_/g, " ");
}
