import type { ClientReadableStream } from "@grpc/grpc-js";
import { SILENT_STREAM_MS, SilenceWatchdog } from "@tollgate/db";

/**
 * Keeps a server stream open: on error or end it reconnects after a backoff
 * (doubling up to 5 s), resuming from the cursor the handler last saw. A
 * stream silent for `silenceMs` (its server hung, or the connection is gone
 * without a word) is cancelled and opened again the same way.
 */
export class StreamFollower<M> {
  private stream: ClientReadableStream<M> | undefined;
  private stopped = false;
  private backoffMs = 100;
  private watchdog: SilenceWatchdog | undefined;

  constructor(
    private readonly open: () => ClientReadableStream<M>,
    private readonly onMessage: (message: M) => void,
    private readonly log: (line: string) => void = () => undefined,
    private readonly silenceMs = SILENT_STREAM_MS,
  ) {}

  start(): void {
    if (this.stream || this.stopped) return;
    const stream = this.open();
    this.stream = stream;
    const watchdog = new SilenceWatchdog(this.silenceMs, () => {
      if (this.stream !== stream) return;
      this.log(`no message for ${this.silenceMs} ms; reconnecting`);
      stream.cancel();
    });
    this.watchdog = watchdog;
    watchdog.heard();
    stream.on("data", (message: M) => {
      // A message still buffered on a stream already given up: the stream that replaced it resumes from what was applied.
      if (this.stream !== stream) return;
      watchdog.heard();
      this.backoffMs = 100;
      this.onMessage(message);
    });
    const reconnect = () => {
      if (this.stream !== stream) return;
      watchdog.stop();
      this.stream = undefined;
      if (this.stopped) return;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
      setTimeout(() => this.start(), delay).unref();
    };
    stream.on("error", (error: Error & { code?: number }) => {
      if (!this.stopped) this.log(`stream error (${error.code ?? "?"}): ${error.message}; reconnecting`);
      reconnect();
    });
    stream.on("end", reconnect);
  }

  stop(): void {
    this.stopped = true;
    this.watchdog?.stop();
    this.stream?.cancel();
    this.stream = undefined;
  }
}

/**
 * How far a follower is behind its stream: the newest version the server says
 * is published (each message and heartbeat carries it; 0 when it does not
 * know) minus the newest one applied here.
 */
export class VersionLag {
  private latest = 0n;
  private heard = false;

  constructor(
    readonly stream: string,
    private readonly applied: () => bigint,
  ) {}

  /** A message arrived, after it was applied. */
  heardOf(latest: string | bigint): void {
    this.heard = true;
    const version = BigInt(latest);
    if (version > this.latest) this.latest = version;
  }

  /** Undefined until the stream has said anything. */
  versions(): number | undefined {
    if (!this.heard) return undefined;
    const behind = this.latest - this.applied();
    return behind > 0n ? Number(behind) : 0;
  }
}
