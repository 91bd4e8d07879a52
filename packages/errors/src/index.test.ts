import { describe, expect, it } from "vitest";
import { AlreadyExistsError, ConflictError, UnavailableError, translateDatabaseError } from "./index.js";

const pgError = (code: string, message = "from the server") => Object.assign(new Error(message), { code });

describe("translateDatabaseError", () => {
  it.each(["57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08004", "08006"])(
    "answers SQLSTATE %s (the database is going, coming or full) as UNAVAILABLE, which a caller retries",
    (code) => {
      expect(translateDatabaseError(pgError(code, "the database system is shutting down"))).toMatchObject({
        constructor: UnavailableError, reason: "DATABASE_UNAVAILABLE", message: "the database system is shutting down",
      });
    },
  );

  it("keeps its other translations, and returns anything else unchanged", () => {
    expect(translateDatabaseError(pgError("23505"))).toBeInstanceOf(AlreadyExistsError);
    expect(translateDatabaseError(pgError("40P01"))).toMatchObject({ constructor: ConflictError, reason: "DEADLOCK" });
    const unknown = pgError("42P01");
    expect(translateDatabaseError(unknown)).toBe(unknown);
  });
});
