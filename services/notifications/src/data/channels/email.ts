import nodemailer from "nodemailer";

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  notificationId: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** The email template: the same message as plain text and as simple HTML. */
export function renderEmail(message: EmailMessage): { text: string; html: string } {
  const paragraphs = message.text.split(/\n{2,}/).map((p) => `<p>${escapeHtml(p)}</p>`).join("\n");
  return {
    text: `${message.text}\n\n— Tollgate`,
    html: `<!doctype html><html><body style="font-family: sans-serif"><h2>${escapeHtml(message.subject)}</h2>\n${paragraphs}\n<p style="color:#888">— Tollgate</p></body></html>`,
  };
}

/**
 * Sends over SMTP with nodemailer, a connection per email. A send given up by its caller (its signal aborted) closes its
 * connection at once (nodemailer's per-send signal).
 */
export class EmailChannel {
  constructor(
    private readonly smtpUrl: string,
    private readonly from: string,
  ) {}

  async send(message: EmailMessage, signal?: AbortSignal): Promise<void> {
    const { text, html } = renderEmail(message);
    // A silent SMTP server fails the send in seconds (nodemailer waits minutes by default), so the row is retried; one that
    // answers slowly keeps its row, whose lease the delivery worker renews while the send runs, up to its deadline.
    const transport = nodemailer.createTransport({ url: this.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 15_000 });
    try {
      await transport.sendMail({
        from: this.from,
        to: message.to,
        subject: message.subject,
        text,
        html,
        messageId: `<${message.notificationId}@tollgate>`,
        headers: { "X-Tollgate-Notification": message.notificationId },
        ...(signal ? { signal } : {}),
      });
    } finally {
      transport.close();
    }
  }
}

declare module "nodemailer/lib/mailer" {
  interface Options {
    /** Gives up this send (nodemailer 10.5): a queued message is dropped, a connection assigned to it is closed. */
    signal?: AbortSignal;
  }
}
