import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startGateway, type Gateway } from "@tollgate/gateway";
import { ROLES, stopInOrder } from "@tollgate/grpc-kit";
import type { Platform } from "./platform.js";

const root = new URL("..", import.meta.url).pathname;

/** Headless Chromium (Debian's /usr/bin/chromium unless CHROMIUM_PATH says otherwise), as the console tests drive it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

const refusedByPolicy = new WeakMap<Page, string[]>();

/** What Chromium refused on a page from `signInPage` under the gateway's Content-Security-Policy (the console errors saying so), in order. */
export const cspViolations = (page: Page): readonly string[] => refusedByPolicy.get(page) ?? [];

/** A new page signed in to the console at `consoleUrl` through its login form, left on `path`. */
export async function signInPage(browser: Browser, consoleUrl: string, username: string, password: string, path = "/"): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const refused: string[] = [];
  refusedByPolicy.set(page, refused);
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) refused.push(message.text());
  });
  await page.goto(`${consoleUrl}${path}`);
  await page.getByTestId("login-username").fill(username);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
  await page.waitForURL((url) => !url.hash.includes("login"));
  return page;
}

/** Where the console tests leave their screenshots. */
export const screenshotDir = `${root}test-results/screenshots`;

export interface ConsoleUnderTest {
  gateway: Gateway;
  browser: Browser;
  stop(): Promise<void>;
}

/**
 * The support console as it ships, for one test file: built by Vite into a
 * directory of the file's own (files that build at once never serve each
 * other's half-emptied output), served by a real gateway in front of
 * `platform` with a viewer (vera / viewer-pass) and an operator
 * (otto / operator-pass), and headless Chromium to drive it.
 */
export async function startConsole(platform: Platform, databaseUrl: string): Promise<ConsoleUnderTest> {
  const staticDir = mkdtempSync(join(tmpdir(), "tollgate-console-"));
  let gateway: Gateway | undefined;
  let browser: Browser | undefined;
  const stop = () =>
    stopInOrder("console under test", {
      Chromium: () => browser?.close(),
      gateway: () => gateway?.stop(),
      "built console": () => rmSync(staticDir, { recursive: true, force: true }),
    });
  try {
    execFileSync("npm", ["run", "build", "--workspace", "@tollgate/admin", "--", "--outDir", staticDir], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    mkdirSync(screenshotDir, { recursive: true });
    gateway = await startGateway({
      databaseUrl, port: 0, secret: "a-browser-test-secret-long-enough-0123456789", users: "vera:viewer-pass:viewer,otto:operator-pass:operator,ada:admin-pass:admin", staticDir,
      ...platform.serviceCredentials("gateway", ROLES),
      addresses: platform.addresses,
    });
    browser = await launchChromium();
    return { gateway, browser, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
