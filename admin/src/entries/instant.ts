/** A date-time picker's local "YYYY-MM-DDTHH:mm" as the instant the API takes (ISO 8601 in UTC); empty when cleared or not a time. */
export function pickedInstant(value: string | null | undefined): string {
  if (!value) return "";
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? "" : time.toISOString();
}
