// The KV file of `alf --kv`: created readable by its owner only, and never
// another program's SQLite database.

import { CliError, EXIT_CODE, oneLine } from "./exit_code.ts";

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = "SQLite format 3\0";

/** Tables every Deno KV database has. */
const KV_CORE_TABLES = ["kv", "data_version", "migration_state"];

/** Every table Deno KV creates (a file another `alf` is creating has some of them). */
const KV_TABLES = new Set([...KV_CORE_TABLES, "queue", "queue_running"]);

/** How long the check waits for a database another process holds locked. */
const BUSY_TIMEOUT = 5_000;

/**
 * Makes `path` ready for `Deno.openKv`: creates it with mode 0600 when it
 * does not exist (SQLite gives its `-wal` and `-shm` files the database file's
 * mode), and refuses a file that is another program's SQLite database, which
 * `Deno.openKv` would add its tables to. An existing file's mode is left as
 * it is.
 *
 * @throws {CliError} with the file exit code when the file cannot be created
 * or read, or belongs to another program.
 */
export async function prepareKvFile(path: string): Promise<void> {
  try {
    // createNew: a file that appears meanwhile (another alf) is not truncated.
    const file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
    file.close();
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw fileError(path, error);
  }
  let database: SqliteDatabase | undefined;
  try {
    database = await readSqliteDatabase(path);
  } catch (error) {
    throw fileError(path, error);
  }
  if (database === undefined || isKvDatabase(database)) return;
  throw new CliError(
    `Cannot open the KV file ${path}: it is another program's SQLite database, not a Deno KV file; choose another path`,
    EXIT_CODE.FILE,
  );
}

/** What tells whose an SQLite database is. */
interface SqliteDatabase {
  tables: string[];
  /** `PRAGMA user_version`: a program's own schema version; Deno KV leaves it 0. */
  userVersion: number;
  /** `PRAGMA application_id`: names the program whose file it is; Deno KV leaves it 0. */
  applicationId: number;
}

/**
 * Whether a database is Deno KV's, or one another `alf` is creating (some of
 * KV's tables, or none yet). A program that set the database's version or
 * application id owns it, even before it made any table.
 */
function isKvDatabase({ tables, userVersion, applicationId }: SqliteDatabase): boolean {
  if (userVersion !== 0 || applicationId !== 0) return false;
  return KV_CORE_TABLES.every((name) => tables.includes(name)) ||
    tables.every((name) => KV_TABLES.has(name));
}

/**
 * The tables, version and application id of the SQLite database at `path`,
 * read without writing to it; `undefined` when the file is not one
 * (`Deno.openKv` then says why).
 */
async function readSqliteDatabase(path: string): Promise<SqliteDatabase | undefined> {
  using file = await Deno.open(path, { read: true });
  const header = new Uint8Array(SQLITE_HEADER.length);
  let length = 0;
  while (length < header.length) {
    const n = await file.read(header.subarray(length));
    if (n === null) break;
    length += n;
  }
  if (new TextDecoder().decode(header.subarray(0, length)) !== SQLITE_HEADER) return undefined;
  // Loaded only here: most runs never need it.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path, { readOnly: true, timeout: BUSY_TIMEOUT });
  try {
    return {
      tables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
        .map((row) => String(row.name)),
      userVersion: Number(db.prepare("PRAGMA user_version").get()?.user_version),
      applicationId: Number(db.prepare("PRAGMA application_id").get()?.application_id),
    };
  } finally {
    db.close();
  }
}

function fileError(path: string, error: unknown): Error {
  // A permission Deno denied is reported as such, with its own exit code.
  if (error instanceof Deno.errors.NotCapable) return error;
  return new CliError(`Cannot open the KV file ${path}: ${oneLine(error)}`, EXIT_CODE.FILE);
}
