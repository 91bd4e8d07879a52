/**
 * A local mailbox for `npm start` without SMTP_URL: an SMTP server on
 * loopback that accepts every message the notifications service sends, saves
 * it as an .eml file and prints who it was for and its subject. Nothing leaves
 * the machine.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface Mailbox {
  /** For SMTP_URL. */
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startMailbox(dir: string, log: (line: string) => void): Promise<Mailbox> {
  mkdirSync(dir, { recursive: true });
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    // Loopback only and the demo's own mail: a message is at most 1 MB.
    size: 1024 * 1024,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => {
        if (!stream.sizeExceeded) chunks.push(chunk);
      });
      stream.once("error", (error) => callback(error));
      stream.once("end", () => {
        // smtp-server only flags a message over `size`; refusing it is ours to do.
        if (stream.sizeExceeded) return callback(Object.assign(new Error("message over 1 MB"), { responseCode: 552 }));
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((mail) => {
            const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}-${++received}.eml`);
            writeFileSync(file, raw);
            const to = [mail.to ?? []].flat().map((a) => a.text).join(", ");
            log(`to ${to || "(nobody)"}: ${mail.subject ?? "(no subject)"}  (${file})`);
            callback();
          })
          .catch((error: Error) => callback(error));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, dir, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
