/**
 * npm start's local mailbox (scripts/mailbox.ts): a message sent over a real
 * SMTP conversation is saved as an .eml file and printed as one line.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startMailbox } from "../scripts/mailbox.js";

const dir = mkdtempSync(join(tmpdir(), "tollgate-mailbox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One message, command by command, each waiting for the server's reply; answers the replies' codes. */
async function sendMail(url: string, from: string, to: string, message: string): Promise<string[]> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let buffer = "";
  const waiters: ((line: string) => void)[] = [];
  socket.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    for (let end = buffer.indexOf("\r\n"); end >= 0; end = buffer.indexOf("\r\n")) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // A multi-line reply ("250-…") ends with its "250 " line.
      if (/^\d{3} /.test(line)) waiters.shift()?.(line);
    }
  });
  const reply = () => new Promise<string>((resolve) => waiters.push(resolve));
  const codes: string[] = [(await reply()).slice(0, 3)];
  for (const command of ["EHLO test", `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, "DATA", `${message}\r\n.`, "QUIT"]) {
    const answer = reply();
    socket.write(`${command}\r\n`);
    codes.push((await answer).slice(0, 3));
  }
  socket.end();
  return codes;
}

describe("npm start's mailbox", () => {
  it("accepts a message over SMTP, saves it as an .eml file and prints who it was for and its subject", async () => {
    const lines: string[] = [];
    const mailbox = await startMailbox(dir, (line) => lines.push(line));
    try {
      const message = ["From: Tollgate <notifications@tollgate.local>", "To: admin@example.com", "Subject: 80% of your credits used", "", "demo-support has used 80% of its credits."].join("\r\n");
      expect(await sendMail(mailbox.url, "notifications@tollgate.local", "admin@example.com", message)).toEqual(["220", "250", "250", "250", "354", "250", "221"]);
      const files = readdirSync(dir).filter((f) => f.endsWith(".eml"));
      expect(files).toHaveLength(1);
      expect(readFileSync(join(dir, files[0]!), "utf8")).toContain("demo-support has used 80% of its credits.");
      expect(lines).toEqual([`to admin@example.com: 80% of your credits used  (${join(dir, files[0]!)})`]);
    } finally {
      await mailbox.stop();
    }
  });
});
