import { InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import type { EntitlementsStore } from "../data/entitlements-store.js";
import type { Subject } from "../data/subject.entity.js";
import { validateId } from "./accounts.js";

export const SUBJECT_KINDS = ["workspace", "workspace_group", "user"] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

/** What a subject's parent must be: a workspace belongs to a group, a user to a workspace. */
const PARENT_KIND: Record<SubjectKind, SubjectKind | undefined> = { workspace: "workspace_group", workspace_group: undefined, user: "workspace" };

export interface UpsertSubjectCommand {
  accountId: string;
  kind: SubjectKind;
  subjectId: string;
  name: string;
  parentId: string;
  email: string;
}

export class Subjects {
  constructor(private readonly store: EntitlementsStore) {}

  async upsert(command: UpsertSubjectCommand): Promise<Subject> {
    validateId("subject.subject_id", command.subjectId);
    if (!command.name.trim()) throw new InvalidArgumentError("subject.name", "is required");
    if (command.email && !/^[^\s@]+@[^\s@]+$/.test(command.email)) throw new InvalidArgumentError("subject.email", `not an email address: ${command.email}`);
    if (command.email && command.kind !== "user") throw new InvalidArgumentError("subject.email", "only users have an email");
    if (!(await this.store.findAccount(command.accountId))) throw new NotFoundError("account", command.accountId);
    if (command.parentId) {
      const parentKind = PARENT_KIND[command.kind];
      if (!parentKind) throw new InvalidArgumentError("subject.parent_id", "a workspace group has no parent");
      if (!(await this.store.findSubject(command.accountId, parentKind, command.parentId))) {
        throw new InvalidArgumentError("subject.parent_id", `no ${parentKind.replace("_", " ")} ${command.parentId} in this account`);
      }
    }
    return this.store.upsertSubject(command);
  }
}
