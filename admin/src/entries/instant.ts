/** A date-time picker's local "YYYY-MM-DDTHH:mm[:ss]" as the instant the API takes (ISO 8601 in UTC); empty when cleared or not a time. */
export function pickedInstant(value: string | null | undefined): string {
  if (!value) return "";
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? "" : time.toISOString();
}

/** An instant (as pickedInstant sends it) as the picker shows it: local "YYYY-MM-DDTHH:mm:ss", to the second; empty when none. */
export function instantForPicker(value: string | null | undefined): string {
  const time = value ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) return "";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${time.getFullYear()}-${two(time.getMonth() + 1)}-${two(time.getDate())}T${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
}
