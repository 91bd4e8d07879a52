/**
 * A number of seconds as a person reads it: "1h 2m 5s", "2m 5s", "5s".
 * Leading zero parts are left out; the API may send the count as a number or
 * a string (int64). Anything unreadable or negative is "—".
 */
export function formatDuration(seconds: number | string | null | undefined): string {
  const value = typeof seconds === "string" && seconds.trim() !== "" ? Number(seconds) : seconds;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return "—";
  const total = Math.floor(value);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h.toLocaleString("en-US")}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/**
 * A number of seconds in hours and minutes only, e.g. for hosting time:
 * "3h 25m", "0h 5m". Seconds are dropped; anything unreadable or negative is "—".
 */
export function formatHoursMinutes(seconds: number | string | null | undefined): string {
  const value = typeof seconds === "string" && seconds.trim() !== "" ? Number(seconds) : seconds;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return "—";
  const total = Math.floor(value);
  return `${Math.floor(total / 3600).toLocaleString("en-US")}h ${Math.floor((total % 3600) / 60)}m`;
}
