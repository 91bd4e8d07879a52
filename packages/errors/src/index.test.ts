import { createServer } from "node:net";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { AlreadyExistsError, ConflictError, DatabaseUnavailableError, NotFoundError, UnavailableError, translateDatabaseError } from "./index.js";

/** A loopback port nothing listens on (it was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const pgError = (code: string, message = "from the server") => Object.assign(new Error(message), { code });

describe("translateDatabaseError", () => {
  it.each(["57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08004", "08006"])(
    "answers SQLSTATE %s (the database is going, coming or full) as UNAVAILABLE, which a caller retries",
    (code) => {
      const error = pgError(code, "the database system is shutting down");
      expect(translateDatabaseError(error)).toMatchObject({
        constructor: DatabaseUnavailableError, reason: "DATABASE_UNAVAILABLE", message: "the database cannot be reached for a moment; retry", cause: error,
      });
    },
  );

  it("answers a database the driver cannot reach as UNAVAILABLE (a real refused connection, and the driver's own messages)", async () => {
    const refused = await new pg.Client({ host: "127.0.0.1", port: await closedPort(), connectionTimeoutMillis: 2_000 }).connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    // In fixed words: the driver's message names the database's host and port, which no caller is to see.
    expect((refused as Error).message).toContain("127.0.0.1");
    const translated = translateDatabaseError(refused);
    expect(translated).toMatchObject({ constructor: DatabaseUnavailableError, reason: "DATABASE_UNAVAILABLE", cause: refused });
    expect((translated as Error).message).not.toContain("127.0.0.1");
    for (const message of ["Connection terminated unexpectedly", "timeout exceeded when trying to connect"]) {
      expect(translateDatabaseError(new Error(message)), message).toBeInstanceOf(UnavailableError);
    }
  });

  it("keeps its other translations, and returns anything else unchanged", () => {
    expect(translateDatabaseError(pgError("23505"))).toBeInstanceOf(AlreadyExistsError);
    expect(translateDatabaseError(pgError("40P01"))).toMatchObject({ constructor: ConflictError, reason: "DEADLOCK" });
    const unknown = pgError("42P01");
    expect(translateDatabaseError(unknown)).toBe(unknown);
  });
});

describe("NotFoundError", () => {
  it("names what was not found in its reason, as upper-case words joined by underscores", () => {
    expect(["model", "gpu type", "fine-tuning rate"].map((what) => new NotFoundError(what, "x").reason)).toEqual([
      "MODEL_NOT_FOUND", "GPU_TYPE_NOT_FOUND", "FINE_TUNING_RATE_NOT_FOUND",
    ]);
  });
});
