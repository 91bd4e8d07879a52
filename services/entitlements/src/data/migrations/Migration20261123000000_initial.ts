import { Migration } from "@tollgate/db";

export class Migration20261123000000_initial extends Migration {
  override name = "Migration20261123000000_initial";

  override up(): void {
    this.addSql(`
      create table entitlements.plan_versions (
        version bigserial primary key,
        plan_id text not null,
        published_at timestamptz not null default now(),
        published_by text not null,
        reason text not null default '',
        document jsonb not null
      )`);
    this.addSql(`create index plan_versions_plan_idx on entitlements.plan_versions (plan_id, version)`);
    this.addSql(`create sequence entitlements.account_revision_seq`);
    this.addSql(`
      create table entitlements.accounts (
        account_id text primary key,
        name text not null,
        plan_id text not null,
        plan_version bigint not null references entitlements.plan_versions (version),
        seats integer not null check (seats >= 0),
        deployment_mode text not null check (deployment_mode in ('cloud', 'self_hosted')),
        billing_mode text not null check (billing_mode in ('credits', 'byom_usd')),
        cycle_anchor timestamptz not null,
        status text not null check (status in ('active', 'suspended')),
        admin_emails jsonb not null default '[]',
        spend_cap_micros bigint not null default 0 check (spend_cap_micros >= 0),
        revision bigint not null default nextval('entitlements.account_revision_seq'),
        created_at timestamptz not null default now(),
        request_hash text not null
      )`);
    this.addSql(`create index accounts_revision_idx on entitlements.accounts (revision)`);
  }

  override down(): void {
    this.addSql(`drop table entitlements.accounts`);
    this.addSql(`drop sequence entitlements.account_revision_seq`);
    this.addSql(`drop table entitlements.plan_versions`);
  }
}
