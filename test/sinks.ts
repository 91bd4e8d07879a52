import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";
import { Webhook } from "standardwebhooks";

/** A local SMTP server that keeps every message it is sent (a real SMTP conversation). */
export async function startSmtpSink() {
  const messages: ParsedMail[] = [];
  /** Each message's envelope as the client sent it: its recipients, and whether MAIL FROM asked for SMTPUTF8 (RFC 6531). */
  const envelopes: { rcptTo: string[]; smtputf8: boolean }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const from = session.envelope.mailFrom;
      envelopes.push({ rcptTo: session.envelope.rcptTo.map((r) => r.address), smtputf8: from !== false && from.args !== false && "SMTPUTF8" in (from.args as object) });
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    envelopes,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedWebhook {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * An HTTP endpoint that verifies Standard Webhooks signatures. It answers 500
 * to the first `failFirst` deliveries, then 204; `received` holds the verified
 * events it accepted, `attempts` every request. `secret` may be a function
 * asked at each delivery: a secret the platform generates is known only once
 * the endpoint (this receiver's URL) is registered.
 */
export async function startWebhookReceiver(secret: string | (() => string), failFirst = 0) {
  let failUntil = failFirst;
  const received: ReceivedWebhook[] = [];
  let attempts = 0;
  let rejectedSignatures = 0;
  const verifier = () => new Webhook(typeof secret === "string" ? secret : secret());
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      attempts++;
      const body = Buffer.concat(chunks).toString("utf8");
      let event: { type: string; data: Record<string, unknown> };
      try {
        event = verifier().verify(body, request.headers as Record<string, string>) as typeof event;
      } catch {
        rejectedSignatures++;
        response.writeHead(400).end();
        return;
      }
      if (attempts <= failUntil) {
        response.writeHead(500).end();
        return;
      }
      received.push({ id: String(request.headers["webhook-id"]), type: event.type, data: event.data });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tollgate`,
    received,
    attempts: () => attempts,
    /** From now on, accept every valid delivery. */
    heal: () => {
      failUntil = 0;
    },
    rejectedSignatures: () => rejectedSignatures,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
