import pg from "pg";

export interface ListenerOptions {
  /** The database to listen on (the services' DATABASE_URL). */
  url: string;
  channels: string[];
  /** Called with each notification's channel and payload, on this replica and every other one listening. */
  onNotification: (channel: string, payload: string) => void;
  /** Called after the connection was lost and is listening again: notifications sent meanwhile were missed. */
  onReconnect?: () => void;
  log?: (line: string) => void;
}

/**
 * PostgreSQL LISTEN on one dedicated connection (outside the pool), kept open:
 * when it drops it reconnects after a backoff (doubling up to 5 s) and says
 * so, since notifications sent while it was away are lost. NOTIFY is
 * transactional (delivered on commit, never for a rolled back transaction)
 * and reaches every connection listening, whichever replica it belongs to.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private backoffMs = 100;
  private timer: NodeJS.Timeout | undefined;
  /** The connection is up and listening on every channel: nothing sent now is missed. */
  private listeningOn: pg.Client | undefined;

  constructor(private readonly options: ListenerOptions) {}

  /** Resolves once listening (a first connection that fails is retried in the background). */
  async start(): Promise<void> {
    await this.connect(false);
  }

  private async connect(reconnecting: boolean): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.options.url, application_name: "tollgate-listen" });
    this.client = client;
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.listeningOn = undefined;
      client.removeAllListeners();
      client.on("error", () => undefined);
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.options.log?.(`listener connection lost${error ? ` (${error.message})` : ""}; reconnecting`);
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
      this.timer = setTimeout(() => void this.connect(true), delay);
      this.timer.unref();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => this.options.onNotification(message.channel, message.payload ?? ""));
    try {
      await client.connect();
      for (const channel of this.options.channels) await client.query(`listen "${channel.replaceAll('"', "")}"`);
      if (this.client === client) this.listeningOn = client;
      this.backoffMs = 100;
      if (reconnecting) this.options.onReconnect?.();
    } catch (error) {
      lost(error as Error);
    }
  }

  /** Whether notifications are heard now (false while the connection is down or coming back). */
  get listening(): boolean {
    return this.listeningOn !== undefined && this.listeningOn === this.client;
  }

  /** Sends a notification on this connection (fails when it is down). */
  async notify(channel: string, payload: string): Promise<void> {
    if (!this.client) throw new Error("the listener is not connected");
    await this.client.query("select pg_notify($1, $2)", [channel, payload]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
