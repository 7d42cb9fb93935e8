// The client's credentials as `new Client()` takes them: a secret or a private key, the method
// that sends them, the signer of its assertions, and what tells their tokens apart in a storage.

import { base64url, pemBlocks } from "./_jwt.ts";
import {
  ClientAssertion,
  type ClientAssertionAudience,
  type ClientKey,
} from "./client_assertion.ts";
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, defaultClientAuth } from "./client_auth.ts";

/** The options of a client that {@linkcode parseClientCredentials} reads. */
export interface CredentialOptions {
  clientId: string;
  clientSecret?: unknown;
  clientAuth?: unknown;
  clientKey?: unknown;
  clientKeyId?: unknown;
  clientAssertionAudience?: unknown;
  /** The client's X.509 certificate (PEM): its thumbprints go in assertion headers. */
  certificate?: string;
  /** The certificate's private key (PEM): the signing key when `clientKey` is not given. */
  certificateKey?: string;
  /** The client's clock, epoch milliseconds, for the assertions' `iat` and `exp`. */
  now: () => number;
  /** Whether the endpoint is found by discovery: its metadata may choose the method. */
  discovered: boolean;
}

/** The client's credentials, checked. */
export interface ClientCredentialSettings {
  /**
   * The method; `undefined` for a client with a secret that chose none and
   * whose endpoint is discovered: the metadata decides at the first request.
   */
  clientAuth: ClientAuthMethod | undefined;
  clientSecret: string | undefined;
  /** Signs the assertions of `private_key_jwt`, or of `client_secret_jwt`. */
  clientAssertion: ClientAssertion | undefined;
  /**
   * What tells these credentials apart in the storage key: the secret, or
   * the key's (see {@linkcode keyCredential}); hashed there, never stored.
   */
  credential: string | undefined;
}

const AUDIENCES: readonly ClientAssertionAudience[] = ["issuer", "token_endpoint", "endpoint"];
const CONTEXT = "Cannot create the client";

/**
 * Checks a client's credentials and method: a method that needs a secret or
 * a key has it, a key goes with `private_key_jwt` (the default when a key is
 * given), and a key is a usable private key (a `TypeError` now, not at the
 * first request).
 *
 * @throws {TypeError} when an option is malformed or the options disagree.
 */
export function parseClientCredentials(options: CredentialOptions): ClientCredentialSettings {
  const { clientId, clientSecret, clientAuth, clientKeyId, now } = options;
  if (clientSecret !== undefined && typeof clientSecret !== "string") {
    throw new TypeError(`${CONTEXT}: "clientSecret" must be a string`);
  }
  if (clientAuth !== undefined && !CLIENT_AUTH_METHODS.includes(clientAuth as ClientAuthMethod)) {
    throw new TypeError(
      `${CONTEXT}: "clientAuth" must be one of ${CLIENT_AUTH_METHODS.join(", ")}`,
    );
  }
  const audience = options.clientAssertionAudience ?? "issuer";
  if (!AUDIENCES.includes(audience as ClientAssertionAudience)) {
    throw new TypeError(
      `${CONTEXT}: "clientAssertionAudience" must be one of ${AUDIENCES.join(", ")}`,
    );
  }
  // A certificate's key signs when no other key is given and the method is chosen.
  const key = options.clientKey ??
    (clientAuth === "private_key_jwt" ? options.certificateKey : undefined);
  const method = clientAuth as ClientAuthMethod | undefined;
  if (key !== undefined && method !== undefined && method !== "private_key_jwt") {
    throw new TypeError(
      `${CONTEXT}: "clientKey" signs private_key_jwt assertions; "clientAuth" is ${method}`,
    );
  }
  if (key === undefined && method === "private_key_jwt") {
    throw new TypeError(`${CONTEXT}: "clientAuth" private_key_jwt needs a "clientKey"`);
  }
  if (key !== undefined && clientSecret) {
    throw new TypeError(
      `${CONTEXT}: "clientSecret" is not used with a "clientKey" (private_key_jwt); leave it out`,
    );
  }
  if (method?.startsWith("client_secret_") && !clientSecret) {
    throw new TypeError(`${CONTEXT}: "clientAuth" ${method} needs a "clientSecret"`);
  }
  if (clientKeyId !== undefined && key === undefined) {
    throw new TypeError(`${CONTEXT}: "clientKeyId" names a "clientKey"; there is none`);
  }
  const secret = clientSecret || undefined;
  const base = { clientId, audience: audience as ClientAssertionAudience, now };
  let clientAssertion: ClientAssertion | undefined;
  try {
    if (key !== undefined) {
      clientAssertion = new ClientAssertion({
        ...base,
        clientKey: key as ClientKey,
        clientKeyId: clientKeyId as string | undefined,
        certificate: options.certificate,
      });
    } else if (
      secret !== undefined &&
      (method === "client_secret_jwt" || (method === undefined && options.discovered))
    ) {
      clientAssertion = new ClientAssertion({ ...base, clientSecret: secret });
    }
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    // The same check, told in the client's words.
    const message = error.message
      .replace("Cannot create the ClientAssertion", CONTEXT)
      .replace('"certificate"', '"clientCertificate.cert"');
    throw new TypeError(message, { cause: error.cause });
  }
  const has = { secret: secret !== undefined, key: key !== undefined };
  return {
    // Only a secret's method depends on what the server supports.
    clientAuth: method ??
      (has.secret && !has.key && options.discovered ? undefined : defaultClientAuth(has)),
    clientSecret: secret,
    clientAssertion,
    credential: key === undefined ? secret : keyCredential(key as ClientKey),
  };
}

/** Each `CryptoKey` given as a client key, by a random id: its bytes may not be exportable. */
const cryptoKeyIds = new WeakMap<CryptoKey, string>();

/**
 * What tells one client key from another, for the storage key (which holds
 * only its hash): a JWK's public members
 * ([RFC 7638 §3.2](https://www.rfc-editor.org/rfc/rfc7638#section-3.2), the
 * input of its thumbprint), a PEM's key bytes (hashed before any use, like a
 * secret), or a `CryptoKey`'s identity in this process (a non-extractable key
 * cannot be read: records made with it are not shared with other processes).
 */
export function keyCredential(key: ClientKey): string {
  if (key instanceof CryptoKey) {
    let id = cryptoKeyIds.get(key);
    if (id === undefined) cryptoKeyIds.set(key, id = crypto.randomUUID());
    return `private_key_jwt cryptokey ${id}`;
  }
  if (typeof key === "string") {
    const blocks = pemBlocks(key.replace(/\\n/g, "\n"))
      .filter((block) => block.label.endsWith("PRIVATE KEY"));
    return `private_key_jwt pem ${blocks.map((block) => base64url(block.der)).join(".")}`;
  }
  const { kty, crv, e, n, x, y } = key;
  const members = kty === "RSA"
    ? { e, kty, n }
    : kty === "EC"
    ? { crv, kty, x, y }
    : { crv, kty, x };
  return `private_key_jwt jwk ${JSON.stringify(members)}`;
}
