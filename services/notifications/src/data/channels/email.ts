import nodemailer, { type Transporter } from "nodemailer";

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

/** Sends over SMTP with nodemailer; one transport per process, a connection per email. */
export class EmailChannel {
  private readonly transport: Transporter;

  constructor(smtpUrl: string, private readonly from: string) {
    // A silent SMTP server fails the send in seconds (nodemailer waits minutes by default), so the row is retried; one that
    // answers slowly keeps its row, whose lease the delivery worker renews while the send runs.
    this.transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 15_000 });
  }

  async send(message: EmailMessage): Promise<void> {
    const { text, html } = renderEmail(message);
    await this.transport.sendMail({
      from: this.from,
      to: message.to,
      subject: message.subject,
      text,
      html,
      messageId: `<${message.notificationId}@tollgate>`,
      headers: { "X-Tollgate-Notification": message.notificationId },
    });
  }

  close(): void {
    this.transport.close();
  }
}
