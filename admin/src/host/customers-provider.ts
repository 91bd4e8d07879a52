import type { DataProvider, RaRecord } from "react-admin";

/**
 * The host back office's own data: a tiny in-memory provider (no network) for
 * its `customers` resource, standing in for whatever the host already has.
 */
export interface Customer extends RaRecord {
  id: number;
  name: string;
  email: string;
  tollgate_account_id: string;
}

const SEED: Customer[] = [
  { id: 1, name: "Acme Robotics", email: "billing@acme.test", tollgate_account_id: "acct_acme" },
  { id: 2, name: "Globex", email: "ops@globex.test", tollgate_account_id: "acct_globex" },
  { id: 3, name: "Initech", email: "it@initech.test", tollgate_account_id: "acct_initech" },
];

export function inMemoryProvider(seed: Customer[] = SEED): DataProvider {
  let rows = seed.map((r) => ({ ...r }));
  let nextId = Math.max(0, ...rows.map((r) => r.id)) + 1;
  const find = (id: unknown) => {
    const row = rows.find((r) => String(r.id) === String(id));
    if (!row) throw new Error(`No customer ${String(id)}`);
    return row;
  };
  const matches = (row: Customer, filter: Record<string, unknown> = {}) =>
    Object.entries(filter).every(([k, v]) =>
      k === "q" ? JSON.stringify(row).toLowerCase().includes(String(v).toLowerCase()) : String(row[k as keyof Customer]) === String(v),
    );

  const provider: DataProvider = {
    async getList(_resource, { pagination = { page: 1, perPage: 10 }, sort, filter }) {
      let list = rows.filter((r) => matches(r, filter));
      if (sort?.field) {
        const dir = sort.order === "DESC" ? -1 : 1;
        list = [...list].sort((a, b) => (String(a[sort.field as keyof Customer]) > String(b[sort.field as keyof Customer]) ? dir : -dir));
      }
      const start = (pagination.page - 1) * pagination.perPage;
      return { data: list.slice(start, start + pagination.perPage) as never[], total: list.length };
    },
    async getOne(_resource, { id }) {
      return { data: find(id) as never };
    },
    async getMany(_resource, { ids }) {
      return { data: rows.filter((r) => ids.map(String).includes(String(r.id))) as never[] };
    },
    async getManyReference(resource, { target, id, ...params }) {
      return provider.getList(resource, { ...params, filter: { ...params.filter, [target]: id } });
    },
    async create(_resource, { data }) {
      const row = { ...(data as Customer), id: nextId++ };
      rows.push(row);
      return { data: row as never };
    },
    async update(_resource, { id, data }) {
      const row = Object.assign(find(id), data, { id: find(id).id });
      return { data: row as never };
    },
    async updateMany(_resource, { ids, data }) {
      for (const id of ids) Object.assign(find(id), data);
      return { data: ids };
    },
    async delete(_resource, { id }) {
      const row = find(id);
      rows = rows.filter((r) => r !== row);
      return { data: row as never };
    },
    async deleteMany(_resource, { ids }) {
      rows = rows.filter((r) => !ids.map(String).includes(String(r.id)));
      return { data: ids };
    },
  };
  return provider;
}
