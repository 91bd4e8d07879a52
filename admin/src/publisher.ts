/** Who published a plan or rate table version, as the API names them. */
export interface Published {
  /** The principal that published it (a service, e.g. "gateway"). */
  published_by: string;
  /** The person the publisher acted for (a console admin), or null. */
  published_on_behalf_of: string | null;
}

/** Who published a version: the person, and the service that acted for them ("ada (via gateway)"), or the service alone. */
export const publisherOf = (version: Published): string =>
  version.published_on_behalf_of ? `${version.published_on_behalf_of} (via ${version.published_by})` : version.published_by;
