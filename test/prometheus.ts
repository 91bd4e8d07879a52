import { expect } from "vitest";
import { parseSamples, type Sample } from "../scripts/prometheus-text.js";

export { value, type Sample } from "../scripts/prometheus-text.js";

/** Scrapes a Prometheus text endpoint over HTTP and parses its samples. */
export async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return parseSamples(await response.text());
}
