import { chromium, type Browser, type Page } from "playwright-core";

/** Headless Chromium (Debian's /usr/bin/chromium unless CHROMIUM_PATH says otherwise), as the console tests drive it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** A new page signed in to the console at `consoleUrl` through its login form, left on `path`. */
export async function signInPage(browser: Browser, consoleUrl: string, username: string, password: string, path = "/"): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${consoleUrl}${path}`);
  await page.getByTestId("login-username").fill(username);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
  await page.waitForURL((url) => !url.hash.includes("login"));
  return page;
}
