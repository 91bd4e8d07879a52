import { LockMode, raw } from "@mikro-orm/core";
import { sql, takeLogTurn, type EntityManager } from "@tollgate/db";
import { AccountSchema, type Account } from "./account.entity.js";
import { PlanVersionSchema, type PlanVersion } from "./plan-version.entity.js";
import { SubjectSchema, type Subject } from "./subject.entity.js";

export interface NewAccount {
  accountId: string;
  name: string;
  planId: string;
  planVersion: string;
  seats: number;
  deploymentMode: string;
  billingMode: string;
  cycleAnchor: Date;
  adminEmails: string[];
  spendCapMicros: bigint;
  requestHash: string;
}

export interface EntitlementsStore {
  appendPlan(plan: { planId: string; document: Record<string, unknown>; publishedBy: string; publishedOnBehalfOf: string | null; reason: string }): Promise<PlanVersion>;
  latestPlan(planId: string): Promise<PlanVersion | null>;
  planVersion(version: bigint): Promise<PlanVersion | null>;
  plansAfter(version: bigint, limit: number): Promise<PlanVersion[]>;
  listPlans(options: { afterVersion: bigint; limit: number; allVersions: boolean }): Promise<PlanVersion[]>;
  findAccount(accountId: string): Promise<Account | null>;
  /** The new account; null when one with its id exists (another create got there first). */
  insertAccount(account: NewAccount): Promise<Account | null>;
  /**
   * Changes one account under its row lock: `change` gets the account as
   * committed and answers what to change (or throws, changing nothing), so
   * two changes at once apply one after the other and neither undoes the
   * other's (two units' limits set together both stay). Null: no such account.
   */
  updateAccount(accountId: string, change: (account: Account) => Promise<Partial<Account>>): Promise<Account | null>;
  accountsAfter(revision: bigint, limit: number): Promise<Account[]>;
  /** The newest revision committed (0 before any account): every revision up to it is committed too (takeLogTurn). */
  latestRevision(): Promise<bigint>;
  listAccounts(options: { after: string; limit: number; query: string }): Promise<Account[]>;
  findSubject(accountId: string, kind: string, subjectId: string): Promise<Subject | null>;
  upsertSubject(subject: { accountId: string; kind: string; subjectId: string; name: string; parentId: string; email: string }): Promise<Subject>;
  /** By subject id then kind, after `after` (a user and a group may share an id; no kind: after every kind of the id). */
  listSubjects(options: { accountId: string; kind?: string; after: { subjectId: string; kind?: string }; limit: number }): Promise<Subject[]>;
}

/** The log accounts' revisions number (WatchAccounts follows it). */
const ACCOUNT_REVISIONS = "entitlements.accounts";

/** An ILIKE pattern matching text that contains `query` as typed: its `%`, `_` and backslash match themselves. */
const contains = (query: string): string => `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A condition: one of the account's admin email addresses matches an ILIKE `pattern`. */
const adminEmailLike = (pattern: string) => ({
  [raw((alias: string) => `exists (select 1 from jsonb_array_elements_text(${alias}.admin_emails) as admin(email) where admin.email ilike ?)`, [pattern])]: true,
});

export class PostgresEntitlementsStore implements EntitlementsStore {
  constructor(private readonly em: () => EntityManager) {}

  appendPlan(plan: { planId: string; document: Record<string, unknown>; publishedBy: string; publishedOnBehalfOf: string | null; reason: string }): Promise<PlanVersion> {
    return this.em().transactional(async (tx) => {
      // Versions are WatchPlans' cursor: they commit in the order they are taken.
      await takeLogTurn(tx, "entitlements.plan_versions");
      const row = tx.create(PlanVersionSchema, { ...plan, publishedAt: new Date() });
      await tx.flush();
      return row;
    });
  }

  latestPlan(planId: string): Promise<PlanVersion | null> {
    return this.em().findOne(PlanVersionSchema, { planId }, { orderBy: { version: "desc" } });
  }

  planVersion(version: bigint): Promise<PlanVersion | null> {
    return this.em().findOne(PlanVersionSchema, { version: version.toString() });
  }

  plansAfter(version: bigint, limit: number): Promise<PlanVersion[]> {
    // A WatchPlans stream reads in one request scope for as long as it is open: nothing it reads is kept there.
    return this.em().find(PlanVersionSchema, { version: { $gt: version.toString() } }, { orderBy: { version: "asc" }, limit, disableIdentityMap: true });
  }

  async listPlans(options: { afterVersion: bigint; limit: number; allVersions: boolean }): Promise<PlanVersion[]> {
    const em = this.em();
    if (options.allVersions) {
      return em.find(PlanVersionSchema, { version: { $gt: options.afterVersion.toString() } }, { orderBy: { version: "asc" }, limit: options.limit });
    }
    const rows = await em.getConnection().execute(
      `select version from entitlements.plan_versions v
        where version = (select max(version) from entitlements.plan_versions w where w.plan_id = v.plan_id)
          and version > ? order by version limit ?`,
      [options.afterVersion.toString(), options.limit],
    );
    const versions = (rows as { version: string }[]).map((r) => r.version);
    return em.find(PlanVersionSchema, { version: { $in: versions } }, { orderBy: { version: "asc" } });
  }

  findAccount(accountId: string): Promise<Account | null> {
    return this.em().findOne(AccountSchema, { accountId });
  }

  /** The new account; null when one with its id exists (another create got there first). */
  insertAccount(account: NewAccount): Promise<Account | null> {
    // Within a keyed call's transaction when there is one (answerOnce: it records its answer in it), else one of its own.
    return this.em().transactional(async (tx) => {
      // Revisions are WatchAccounts' cursor: they commit in the order they are taken.
      await takeLogTurn(tx, ACCOUNT_REVISIONS);
      const [row] = await sql<{ account_id: string }>(
        tx,
        `insert into entitlements.accounts
           (account_id, name, plan_id, plan_version, seats, deployment_mode, billing_mode, cycle_anchor, status, admin_emails, spend_cap_micros, request_hash)
         values (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?::jsonb, ?, ?)
         on conflict (account_id) do nothing
         returning account_id`,
        [
          account.accountId, account.name, account.planId, account.planVersion, account.seats, account.deploymentMode,
          account.billingMode, account.cycleAnchor, JSON.stringify(account.adminEmails), account.spendCapMicros.toString(), account.requestHash,
        ],
      );
      if (!row) return null;
      return (await tx.findOne(AccountSchema, { accountId: row.account_id }, { refresh: true }))!;
    });
  }

  updateAccount(accountId: string, change: (account: Account) => Promise<Partial<Account>>): Promise<Account | null> {
    // Within a keyed call's transaction when there is one (answerOnce), else a transaction of its own.
    return this.em().transactional(async (tx) => {
      const account = await tx.findOne(AccountSchema, { accountId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!account) return null;
      const changes = await change(account);
      await takeLogTurn(tx, ACCOUNT_REVISIONS);
      const [row] = await sql<{ revision: string }>(tx, `select nextval('entitlements.account_revision_seq') as revision`);
      tx.assign(account, { ...changes, revision: row!.revision });
      await tx.flush();
      return account;
    });
  }

  async latestRevision(): Promise<bigint> {
    const [row] = await sql<{ revision: string | null }>(this.em(), `select max(revision)::text as revision from entitlements.accounts`); // accounts_revision_idx
    return BigInt(row?.revision ?? 0);
  }

  accountsAfter(revision: bigint, limit: number): Promise<Account[]> {
    // A WatchAccounts stream reads in one request scope for as long as it is open: nothing it reads is kept there.
    return this.em().find(AccountSchema, { revision: { $gt: revision.toString() } }, { orderBy: { revision: "asc" }, limit, disableIdentityMap: true });
  }

  listAccounts(options: { after: string; limit: number; query: string }): Promise<Account[]> {
    const pattern = contains(options.query);
    return this.em().find(
      AccountSchema,
      {
        accountId: { $gt: options.after },
        // By id, name, or one of its admins' email addresses (support's first question: "I'm owner@…").
        ...(options.query ? { $or: [{ accountId: { $ilike: pattern } }, { name: { $ilike: pattern } }, adminEmailLike(pattern)] } : {}),
      },
      { orderBy: { accountId: "asc" }, limit: options.limit },
    );
  }

  findSubject(accountId: string, kind: string, subjectId: string): Promise<Subject | null> {
    return this.em().findOne(SubjectSchema, { accountId, kind, subjectId });
  }

  async upsertSubject(subject: { accountId: string; kind: string; subjectId: string; name: string; parentId: string; email: string }): Promise<Subject> {
    await sql(
      this.em(),
      `insert into entitlements.subjects (account_id, kind, subject_id, name, parent_id, email) values (?, ?, ?, ?, ?, ?)
       on conflict (account_id, kind, subject_id) do update set name = excluded.name, parent_id = excluded.parent_id, email = excluded.email`,
      [subject.accountId, subject.kind, subject.subjectId, subject.name, subject.parentId, subject.email],
    );
    return (await this.em().findOne(SubjectSchema, { accountId: subject.accountId, kind: subject.kind, subjectId: subject.subjectId }, { refresh: true }))!;
  }

  listSubjects(options: { accountId: string; kind?: string; after: { subjectId: string; kind?: string }; limit: number }): Promise<Subject[]> {
    const { subjectId, kind } = options.after;
    const after = kind === undefined ? { subjectId: { $gt: subjectId } } : { $or: [{ subjectId: { $gt: subjectId } }, { subjectId, kind: { $gt: kind } }] };
    return this.em().find(
      SubjectSchema,
      { accountId: options.accountId, ...(options.kind ? { kind: options.kind } : {}), ...after },
      { orderBy: { subjectId: "asc", kind: "asc" }, limit: options.limit },
    );
  }
}
