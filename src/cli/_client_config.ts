// The client a command uses, configured by flags and ALF_* environment variables.

import {
  AuthorizationCodeGrant,
  Client,
  type ClientAuthMethod,
  type ClientOptions,
  type Grant,
  KvTokenStorage,
  type PortRange,
  type TokenStorage,
} from "../../mod.ts";
import { CLIENT_AUTH_METHODS } from "../client_auth.ts";

/** The methods a secret (or none) is enough for: the CLI has no key or certificate option yet. */
const CLI_CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS.filter((method) =>
  method.startsWith("client_secret_") || method === "none"
);
import { flagOption, listOption, type OptionSpec, type ParsedArgs, stringOption } from "./_args.ts";
import type { Io } from "./_io.ts";
import { openRedisStorage } from "./_redis_connection.ts";
import { prepareKvFile } from "./_kv_file.ts";
import { deviceGrant } from "./_device_login.ts";
import { CliError, EXIT_CODE, oneLine, usageError } from "./exit_code.ts";

/** The options every command takes to configure its client. */
export const CONFIG_OPTIONS: OptionSpec[] = [
  { name: "token-endpoint", value: true },
  { name: "resource", value: true },
  { name: "revocation-endpoint", value: true },
  { name: "client-id", value: true },
  { name: "client-secret", value: true },
  { name: "scope", value: true, repeat: true },
  { name: "client-auth", value: true },
  { name: "audience", value: true },
  { name: "token-param", value: true, repeat: true },
  { name: "allow-http", value: false },
  { name: "kv", value: true },
  { name: "redis", value: true },
  { name: "login", value: false },
  { name: "authorization-endpoint", value: true },
  { name: "login-ports", value: true },
  { name: "device", value: false },
  { name: "device-authorization-endpoint", value: true },
];

/** The help text of {@linkcode CONFIG_OPTIONS}. */
export const CONFIG_HELP =
  `Configuration, by flag or environment variable (a flag wins; Deno's --env-file
can set the variables):
  --token-endpoint URL (ALF_TOKEN_ENDPOINT)
      the token endpoint; without it, the API's own metadata (RFC 9728) names
      the authorization server, and alf registers itself there (RFC 7591)
  --resource URL (ALF_RESOURCE)
      the API, for that discovery; default for alf request: the request's URL
      (without its query)
  --revocation-endpoint URL (ALF_REVOCATION_ENDPOINT)
      the revocation endpoint, for alf logout
  --client-id ID (ALF_CLIENT_ID)
      the client id; required with --token-endpoint
  --client-secret SECRET (ALF_CLIENT_SECRET)
      the client secret; prefer the variable: other users can see arguments
  --scope SCOPE (ALF_SCOPE)
      the scope, space-separated; the flag is repeatable
  --client-auth METHOD (ALF_CLIENT_AUTH)
      client_secret_basic (the default with a secret), client_secret_post,
      client_secret_jwt or none
  --audience AUDIENCE (ALF_AUDIENCE)
      the "audience" token request parameter
  --token-param NAME=VALUE
      another token request parameter; repeatable
  --allow-http
      allow http: to a host that is not loopback (token endpoint and API)
  --kv PATH (ALF_KV)
      keep tokens across runs in this Deno KV file, created readable by you only
      (0600); another program's SQLite database is refused; Deno must run with
      --unstable-kv
  --redis URL (ALF_REDIS)
      keep tokens in Redis, shared by every process that uses it (not with --kv):
      redis://[user:password@]host[:port][/db], or rediss:// for TLS
  --login
      log in through the browser (authorization code with PKCE), not client credentials
  --authorization-endpoint URL (ALF_AUTHORIZATION_ENDPOINT)
      where --login sends the browser; default: the token endpoint with /authorize
  --login-ports FROM-TO (ALF_LOGIN_PORTS)
      the loopback ports --login may listen on; default: 32000-32009
  --device
      log in on another device, for a machine without a browser (device
      authorization grant): the address and the code to enter there are
      printed on stderr; the login is then renewed with its refresh token
  --device-authorization-endpoint URL (ALF_DEVICE_AUTHORIZATION_ENDPOINT)
      where --device asks for the code; required with --device`;

/** A configured client and what it holds open (a KV file, a Redis connection). */
export interface CliClient extends AsyncDisposable {
  readonly client: Client;
  /** Whether the storage failed during the run (a warning was printed). */
  readonly storageFailed: boolean;
}

/** A setting of the configuration: its flag, else its environment variable. */
export function configSetting(
  args: ParsedArgs,
  io: Io,
  flag: string,
  variable: string,
): string | undefined {
  return stringOption(args, flag) ?? io.env(variable);
}

/**
 * Builds the client from flags and environment, and opens its storage.
 *
 * @throws {CliError} with the usage exit code for missing or malformed
 * configuration, with the file exit code when the KV file cannot be opened.
 */
export async function openClient(
  args: ParsedArgs,
  io: Io,
  target?: string,
): Promise<CliClient> {
  const setting = (flag: string, variable: string) => configSetting(args, io, flag, variable);
  const tokenEndpoint = setting("token-endpoint", "ALF_TOKEN_ENDPOINT");
  // No token endpoint: the API's metadata names its server (RFC 9728).
  const protectedResource = tokenEndpoint === undefined
    ? setting("resource", "ALF_RESOURCE") ?? resourceOf(target)
    : undefined;
  if (tokenEndpoint === undefined && protectedResource === undefined) {
    throw usageError(
      "Cannot configure the client: no token endpoint; pass --token-endpoint (or set ALF_TOKEN_ENDPOINT), or --resource with the API's URL",
    );
  }
  const clientId = setting("client-id", "ALF_CLIENT_ID");
  if (clientId === undefined && protectedResource === undefined) {
    throw usageError(
      "Cannot configure the client: no client id; pass --client-id or set ALF_CLIENT_ID",
    );
  }
  const clientAuth = setting("client-auth", "ALF_CLIENT_AUTH");
  if (
    clientAuth !== undefined && !CLI_CLIENT_AUTH_METHODS.includes(clientAuth as ClientAuthMethod)
  ) {
    throw usageError(
      `Cannot configure the client: the client authentication must be one of ${
        CLI_CLIENT_AUTH_METHODS.join(", ")
      }`,
    );
  }
  const scopes = listOption(args, "scope");
  const options: ClientOptions = {
    ...(protectedResource === undefined ? { tokenEndpoint } : { protectedResource }),
    ...(protectedResource !== undefined && clientId === undefined
      ? { clientName: "alf (command line)" }
      : {}),
    revocationEndpoint: setting("revocation-endpoint", "ALF_REVOCATION_ENDPOINT"),
    clientId,
    clientSecret: setting("client-secret", "ALF_CLIENT_SECRET"),
    scope: scopes.length > 0 ? scopes : io.env("ALF_SCOPE"),
    clientAuth: clientAuth as ClientAuthMethod | undefined,
    tokenParams: tokenParams(args, io),
    allowHttp: flagOption(args, "allow-http"),
    // Token endpoint errors end the run with their own exit code, apart from
    // the resource's HTTP errors.
    tokenErrors: "throw",
  };
  const warnings: Promise<void>[] = [];
  let storageFailed = false;
  options.onEvent = (event) => {
    io.clientEvent(event);
    if (event.type === "error" && event.phase === "storage") {
      storageFailed = true;
      warnings.push(
        io.printError(
          `alf: warning: the token storage failed; going on without it: ${oneLine(event.error)}\n`,
        ).catch(() => {}),
      );
    }
  };
  const redisUrl = setting("redis", "ALF_REDIS");
  if (redisUrl !== undefined && setting("kv", "ALF_KV") !== undefined) {
    throw usageError(
      "Cannot configure the client: --kv (ALF_KV) and --redis (ALF_REDIS) are both set; choose one storage",
    );
  }
  // Connects at the first command: a Redis that is down costs a warning, not the run.
  const redis = redisUrl === undefined ? undefined : openRedisStorage(redisUrl);
  const kvPath = setting("kv", "ALF_KV");
  const kv = kvPath === undefined ? undefined : await openKvStorage(kvPath);
  try {
    // Without a token endpoint, a person logs in: through the browser unless --device.
    if (flagOption(args, "login") || protectedResource !== undefined) {
      options.grant = loginGrant(args, io);
    }
    if (flagOption(args, "device")) {
      options.grant = deviceLoginGrant(args, io, protectedResource !== undefined);
    }
    if (kv) options.storage = kv.storage;
    if (redis) options.storage = redis.storage;
    const client = new Client(options);
    return {
      client,
      get storageFailed() {
        return storageFailed;
      },
      async [Symbol.asyncDispose]() {
        await client.close();
        kv?.close();
        await redis?.close();
        await Promise.all(warnings);
      },
    };
  } catch (error) {
    kv?.close();
    await redis?.close();
    if (error instanceof TypeError || error instanceof RangeError) {
      // "Cannot create the client: ..." or "Cannot create the AuthorizationCodeGrant: ..."
      throw usageError(
        error.message.replace(/^Cannot create the \w+/, "Cannot configure the client"),
      );
    }
    throw error;
  }
}

function tokenParams(args: ParsedArgs, io: Io): Record<string, string[]> {
  const params: Record<string, string[]> = {};
  const audience = stringOption(args, "audience") ?? io.env("ALF_AUDIENCE");
  if (audience !== undefined) params.audience = [audience];
  for (const pair of listOption(args, "token-param")) {
    const equals = pair.indexOf("=");
    if (equals < 1) {
      throw usageError("Cannot configure the client: --token-param must be NAME=VALUE");
    }
    (params[pair.slice(0, equals)] ??= []).push(pair.slice(equals + 1));
  }
  return params;
}

/**
 * The authorization code grant with PKCE, renewed by its refresh tokens
 * ([RFC 8252](https://www.rfc-editor.org/rfc/rfc8252)).
 */
function loginGrant(args: ParsedArgs, io: Io): Grant {
  const authorizationEndpoint = stringOption(args, "authorization-endpoint") ??
    io.env("ALF_AUTHORIZATION_ENDPOINT");
  const ports = stringOption(args, "login-ports") ?? io.env("ALF_LOGIN_PORTS");
  return new AuthorizationCodeGrant({
    authorizationEndpoint,
    portRange: ports === undefined ? undefined : portRange(ports),
  });
}

/** `--device`: the device authorization grant, at the endpoint given (the CLI has no discovery). */
function deviceLoginGrant(args: ParsedArgs, io: Io, discovered: boolean): Grant {
  if (flagOption(args, "login")) {
    throw usageError(
      "Cannot configure the client: --login and --device are two ways to log in; choose one",
    );
  }
  const endpoint = configSetting(
    args,
    io,
    "device-authorization-endpoint",
    "ALF_DEVICE_AUTHORIZATION_ENDPOINT",
  );
  if (endpoint === undefined && !discovered) {
    throw usageError(
      "Cannot configure the client: --device needs the device authorization endpoint; pass --device-authorization-endpoint or set ALF_DEVICE_AUTHORIZATION_ENDPOINT",
    );
  }
  return deviceGrant(endpoint, io);
}

function portRange(text: string): PortRange {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  if (!match) {
    throw usageError("Cannot configure the client: the login ports must be PORT or FROM-TO");
  }
  const from = Number(match[1]);
  return [from, match[2] === undefined ? from : Number(match[2])];
}

/**
 * Opens the KV file that keeps tokens across runs (and shares them between
 * processes): created readable by its owner only, never another program's
 * SQLite database.
 */
async function openKvStorage(path: string): Promise<{ storage: TokenStorage; close(): void }> {
  // Deno.openKv exists only when Deno runs with --unstable-kv.
  if (typeof Deno.openKv !== "function") {
    throw usageError(
      "Cannot open the KV file: Deno KV is unstable; run Deno with --unstable-kv (in deno install too)",
    );
  }
  await prepareKvFile(path);
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new CliError(`Cannot open the KV file ${path}: ${oneLine(error)}`, EXIT_CODE.FILE);
  }
  return { storage: new KvTokenStorage(kv), close: () => kv.close() };
}

/** The API a request's URL belongs to: the URL without its query and fragment. */
function resourceOf(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  try {
    const url = new URL(target);
    url.search = "";
    url.hash = "";
    return url.href;
  } catch {
    return undefined; // the request command reports a bad URL itself
  }
}
