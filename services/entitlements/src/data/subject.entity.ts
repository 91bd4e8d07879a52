import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** A workspace, workspace group or user of an account: what usage is attributed to. */
export const SubjectSchema = defineEntity({
  name: "Subject",
  tableName: "subjects",
  properties: {
    accountId: p.string().primary().fieldName("account_id"),
    kind: p.string().primary(),
    subjectId: p.string().primary().fieldName("subject_id"),
    name: p.string(),
    parentId: p.string().fieldName("parent_id"),
    email: p.string(),
    createdAt: p.datetime().fieldName("created_at"),
  },
});
export type Subject = InferEntity<typeof SubjectSchema>;
