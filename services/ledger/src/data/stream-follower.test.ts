import { EventEmitter } from "node:events";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { StreamFollower } from "./stream-follower.js";

/** A server stream as grpc-js hands it to the follower: data, error and end events, and cancel(), which errors it as CANCELLED. */
class FakeStream extends EventEmitter {
  cancelled = false;
  cancel(): void {
    this.cancelled = true;
    this.emit("error", Object.assign(new Error("Cancelled on client"), { code: 1 }));
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("StreamFollower", () => {
  it("opens a stream again when it stays silent past the limit, and keeps one that sends", async () => {
    const opened: FakeStream[] = [];
    const heard: number[] = [];
    const lines: string[] = [];
    const follower = new StreamFollower(
      () => {
        const stream = new FakeStream();
        opened.push(stream);
        return stream as unknown as ClientReadableStream<number>;
      },
      (message: number) => heard.push(message),
      (line) => lines.push(line),
      150,
    );
    try {
      follower.start();
      // Messages within the limit keep the stream.
      for (let i = 1; i <= 4; i++) {
        await settle(60);
        opened[0]!.emit("data", i);
      }
      expect(opened).toHaveLength(1);
      expect(heard).toEqual([1, 2, 3, 4]);
      // Then nothing: it is cancelled and opened again after the backoff.
      while (opened.length < 2) await settle(5);
      expect(opened[0]!.cancelled).toBe(true);
      expect(lines[0]).toBe("no message for 150 ms; reconnecting");
      opened[1]!.emit("data", 5);
      // What the stream given up still had buffered is not applied (the new one resumes from what was).
      opened[0]!.emit("data", 99);
      expect(heard).toEqual([1, 2, 3, 4, 5]);
    } finally {
      follower.stop();
    }
  });
});
