/**
 * Google service accounts: the JSON key file turned into client options
 * (Google's [OAuth 2.0 for server to server applications](https://developers.google.com/identity/protocols/oauth2/service-account#httprest),
 * the JWT bearer grant of [RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)).
 *
 * @module
 */

import { checkPrivateKey, signJwt } from "./_jwt.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { JwtBearerGrant } from "./grants/jwt_bearer.ts";

/**
 * The members of a Google service account key file this client reads.
 *
 * @example The shape of a key file
 * ```ts
 * import type { GoogleServiceAccountKey } from "@alf/client";
 *
 * const key: GoogleServiceAccountKey = {
 *   type: "service_account",
 *   client_email: "reporter@my-project.iam.gserviceaccount.com",
 *   private_key: "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
 *   private_key_id: "1f2e3d",
 *   token_uri: "https://oauth2.googleapis.com/token",
 * };
 * ```
 */
export interface GoogleServiceAccountKey {
  /** `"service_account"`. */
  type?: string;
  /** The service account's address: the assertion's `iss`, and the client id. */
  client_email: string;
  /** The RSA private key, PKCS#8 PEM. */
  private_key: string;
  /** The key's id: the assertion's `kid`. */
  private_key_id?: string;
  /** The token endpoint. Default: `https://oauth2.googleapis.com/token`. */
  token_uri?: string;
  /** Any other member of the file. */
  [member: string]: unknown;
}

/**
 * Options of {@linkcode googleServiceAccount}.
 *
 * @example Acting as a user of a Workspace domain
 * ```ts
 * import type { GoogleServiceAccountOptions } from "@alf/client";
 *
 * const options: GoogleServiceAccountOptions = {
 *   scope: "https://www.googleapis.com/auth/gmail.readonly",
 *   subject: "alice@example.com", // needs domain-wide delegation
 * };
 * ```
 */
export interface GoogleServiceAccountOptions {
  /** The scopes wanted: a space-separated string or a list. Required by Google. */
  scope: string | string[];
  /** The user to act for, with domain-wide delegation: the assertion's `sub`. */
  subject?: string;
  /** The clock, epoch milliseconds. Default: the client's (`now` option). */
  now?: () => number;
}

/**
 * Every name of {@linkcode GoogleServiceAccountOptions}: any other name is
 * refused as a misspelling (the key file's own members are not checked:
 * Google adds to them).
 */
export const GOOGLE_SERVICE_ACCOUNT_OPTION_NAMES = {
  scope: true,
  subject: true,
  now: true,
} as const satisfies Record<keyof GoogleServiceAccountOptions, true>;

/**
 * Client options for a Google service account; spread them into the
 * `Client` options.
 *
 * @example Spreading them into a client
 * ```ts ignore
 * import { Client, googleServiceAccount } from "@alf/client";
 *
 * const options = googleServiceAccount(Deno.env.get("GOOGLE_KEY")!, { scope: "openid" });
 * await using client = new Client({ ...options, renewalMargin: 300_000 });
 * ```
 */
export interface GoogleServiceAccountClientOptions {
  /** The key's `token_uri`. */
  tokenEndpoint: string;
  /** The key's `client_email`. */
  clientId: string;
  /** A JWT bearer grant that signs Google's RS256 assertion for each token request. */
  grant: JwtBearerGrant;
}

const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";
/** Google refuses an assertion valid for more than an hour. */
const LIFETIME_SECONDS = 3600;

/**
 * Reads a Google service account key (the JSON file, as text or parsed) and
 * returns the options of a client that gets its tokens with it: the token
 * endpoint, the client id, and a {@linkcode JwtBearerGrant} that signs, for
 * each token request, the assertion Google expects: `iss` = the account's
 * address, `scope`, `aud` = the token endpoint, `iat`, `exp` an hour later,
 * and `sub` when acting for a user; RS256 with the key's `kid`. The scope
 * travels in the assertion, not in the form. Works wherever WebCrypto does
 * (Deno Deploy included).
 *
 * @example A client for the Sheets API
 * ```ts ignore
 * import { Client, googleServiceAccount } from "@alf/client";
 *
 * await using client = new Client(
 *   googleServiceAccount(await Deno.readTextFile("service-account.json"), {
 *     scope: "https://www.googleapis.com/auth/spreadsheets",
 *   }),
 * );
 * const response = await client.fetch(
 *   "https://sheets.googleapis.com/v4/spreadsheets/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
 * );
 * ```
 *
 * @example The options it returns
 * ```ts
 * import assert from "node:assert/strict";
 * import { googleServiceAccount } from "@alf/client";
 *
 * const { privateKey } = await crypto.subtle.generateKey(
 *   {
 *     name: "RSASSA-PKCS1-v1_5",
 *     modulusLength: 2048,
 *     publicExponent: new Uint8Array([1, 0, 1]),
 *     hash: "SHA-256",
 *   },
 *   true,
 *   ["sign", "verify"],
 * );
 * const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey));
 * const pem = `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...der))}\n-----END PRIVATE KEY-----\n`;
 * const options = googleServiceAccount(
 *   { type: "service_account", client_email: "bot@p.iam.gserviceaccount.com", private_key: pem },
 *   { scope: ["https://www.googleapis.com/auth/spreadsheets"] },
 * );
 * assert.equal(options.tokenEndpoint, "https://oauth2.googleapis.com/token");
 * assert.equal(options.clientId, "bot@p.iam.gserviceaccount.com");
 * ```
 *
 * @param key The key file: its JSON text or the parsed object.
 * @param options The scope and, for domain-wide delegation, the subject.
 * @returns `tokenEndpoint`, `clientId` and `grant`, for `new Client()`.
 * @throws {TypeError} when the key is not a service account key or its
 * private key cannot sign, or an option is malformed or unknown.
 */
export function googleServiceAccount(
  key: string | GoogleServiceAccountKey,
  options: GoogleServiceAccountOptions,
): GoogleServiceAccountClientOptions {
  checkKnownOptions(
    options,
    GOOGLE_SERVICE_ACCOUNT_OPTION_NAMES,
    "Google service account client",
  );
  const context = "Cannot use the Google service account key";
  let file: unknown = key;
  if (typeof key === "string") {
    try {
      file = JSON.parse(key);
    } catch {
      throw new TypeError(`${context}: it is not JSON`);
    }
  }
  if (typeof file !== "object" || file === null || Array.isArray(file)) {
    throw new TypeError(`${context}: it is not a JSON object`);
  }
  const account = file as Partial<GoogleServiceAccountKey>;
  if (account.type !== undefined && account.type !== "service_account") {
    throw new TypeError(
      `${context}: its type is ${JSON.stringify(account.type)}, not "service_account"`,
    );
  }
  const { client_email: email, private_key_id: keyId } = account;
  if (typeof email !== "string" || email === "") {
    throw new TypeError(`${context}: "client_email" must be a non-empty string`);
  }
  if (keyId !== undefined && typeof keyId !== "string") {
    throw new TypeError(`${context}: "private_key_id" must be a string`);
  }
  const tokenUri = account.token_uri ?? GOOGLE_TOKEN_URI;
  parseEndpointUrl(tokenUri, "Google service account client", "token_uri");
  const signingKey = checkPrivateKey(
    account.private_key,
    "RS256",
    (reason) => new TypeError(`${context}: "private_key" ${reason}`),
  );

  const optionsContext = "Cannot create the Google service account client";
  const scope = Array.isArray(options.scope) ? options.scope.join(" ") : options.scope;
  if (typeof scope !== "string" || scope.trim() === "") {
    throw new TypeError(`${optionsContext}: "scope" must be a non-empty string or list`);
  }
  const { subject, now } = options;
  if (subject !== undefined && (typeof subject !== "string" || subject === "")) {
    throw new TypeError(`${optionsContext}: "subject" must be a non-empty string`);
  }
  if (now !== undefined && typeof now !== "function") {
    throw new TypeError(`${optionsContext}: "now" must be a function`);
  }

  const grant = new JwtBearerGrant({
    // Tokens differ by scope and by the user acted for; the email is the client id.
    identity: JSON.stringify([keyId ?? null, scope, subject ?? null]),
    assertion: async (request) => {
      const iat = Math.floor((now?.() ?? request.now) / 1000);
      const claims: Record<string, unknown> = {
        iss: email,
        scope,
        aud: tokenUri,
        iat,
        exp: iat + LIFETIME_SECONDS,
      };
      if (subject !== undefined) claims.sub = subject;
      const header: Record<string, unknown> = { typ: "JWT" };
      if (keyId !== undefined) header.kid = keyId;
      return await signJwt(header, claims, await signingKey.key(), "RS256");
    },
  });
  return { tokenEndpoint: tokenUri, clientId: email, grant };
}
