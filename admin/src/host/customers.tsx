import { DataTable, Edit, EmailField, Link, List, SearchInput, SimpleForm, TextInput } from "react-admin";
import { RESOURCES } from "../data-provider";
import type { Customer } from "./customers-provider";

/** The host's own pages; each customer links to its Tollgate account page in the plugin. */
export function CustomerList() {
  return (
    <List filters={[<SearchInput key="q" source="q" alwaysOn />]}>
      <DataTable<Customer> rowClick="edit">
        <DataTable.Col source="id" />
        <DataTable.Col source="name" />
        <DataTable.Col source="email" field={EmailField} />
        <DataTable.Col
          label="Credits account"
          render={(c) => (
            <Link to={`/${RESOURCES.accounts}/${encodeURIComponent(c.tollgate_account_id)}/show`} onClick={(e: React.MouseEvent) => e.stopPropagation()}>
              {c.tollgate_account_id}
            </Link>
          )}
        />
      </DataTable>
    </List>
  );
}

export function CustomerEdit() {
  return (
    <Edit>
      <SimpleForm>
        <TextInput source="name" />
        <TextInput source="email" />
        <TextInput source="tollgate_account_id" label="Tollgate account id" />
      </SimpleForm>
    </Edit>
  );
}
