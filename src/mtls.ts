/**
 * Mutual TLS: client authentication by certificate and certificate-bound
 * access tokens ([RFC 8705](https://www.rfc-editor.org/rfc/rfc8705)). The
 * client's certificate and key are presented in the TLS handshake through a
 * `Deno.HttpClient`; the token request's form carries `client_id` only.
 *
 * @module
 */

import { base64url, pemBlocks } from "./_jwt.ts";
import { checkKnownOptions } from "./_known_options.ts";

/**
 * The client authentication methods of mutual TLS
 * ([RFC 8705 §2](https://www.rfc-editor.org/rfc/rfc8705#section-2)). The
 * client does the same for both (it presents its certificate and sends
 * `client_id`); they differ in how the server checks the certificate:
 *
 * - `"tls_client_auth"`: the certificate chains to a CA the server trusts,
 *   and its subject (or a subject alternative name) is the one registered for
 *   the client ([§2.1](https://www.rfc-editor.org/rfc/rfc8705#section-2.1)).
 * - `"self_signed_tls_client_auth"`: the certificate is one of those
 *   registered for the client, matched by its public key or thumbprint
 *   ([§2.2](https://www.rfc-editor.org/rfc/rfc8705#section-2.2)).
 *
 * @example Choosing by how the certificate was issued
 * ```ts
 * import type { TlsClientAuthMethod } from "@alf/client";
 *
 * const method: TlsClientAuthMethod = "self_signed_tls_client_auth";
 * ```
 */
export type TlsClientAuthMethod = "tls_client_auth" | "self_signed_tls_client_auth";

/** The accepted values of {@linkcode TlsClientAuthMethod}. */
export const TLS_CLIENT_AUTH_METHODS: readonly TlsClientAuthMethod[] = [
  "tls_client_auth",
  "self_signed_tls_client_auth",
];

/** Whether `method` authenticates the client by its TLS certificate. */
export function isTlsClientAuth(method: unknown): method is TlsClientAuthMethod {
  return TLS_CLIENT_AUTH_METHODS.includes(method as TlsClientAuthMethod);
}

/**
 * The client's TLS certificate, for the `clientCertificate` option of a
 * `Client`: with a mutual-TLS `clientAuth` (or `boundAccessTokens`),
 * presented to the token and revocation endpoints, and to resources when
 * `boundAccessTokens` is set; with `private_key_jwt`, its thumbprint goes in
 * the client assertions and its key signs them when there is no `clientKey`.
 *
 * @example A certificate and key from files
 * ```ts ignore
 * import { Client, type ClientCertificate } from "@alf/client";
 *
 * const clientCertificate: ClientCertificate = {
 *   cert: await Deno.readTextFile("client.pem"),
 *   key: await Deno.readTextFile("client.key"),
 *   boundAccessTokens: true,
 * };
 * await using client = new Client({
 *   tokenEndpoint: "https://mtls.auth.example.com/token",
 *   clientId: "service",
 *   clientAuth: "tls_client_auth",
 *   clientCertificate,
 * });
 * ```
 */
export interface ClientCertificate {
  /** The client's certificate as PEM, followed by any intermediate certificates. */
  cert: string;
  /**
   * The certificate's private key as PEM: PKCS#8 `PRIVATE KEY`, or PKCS#1
   * `RSA PRIVATE KEY`, or SEC1 `EC PRIVATE KEY`; not encrypted.
   */
  key: string;
  /**
   * Root certificates (PEM) trusted for the servers' certificates besides the
   * default ones: for a token endpoint or resource under a private CA.
   */
  caCerts?: string[];
  /**
   * Present the certificate to resources too, for access tokens the server
   * binds to it (`cnf` with `x5t#S256`,
   * [RFC 8705 §3](https://www.rfc-editor.org/rfc/rfc8705#section-3)): a
   * resource then accepts the token only over a connection that shows the
   * same certificate. The certificate goes only to servers that ask for one.
   * Default: `false`.
   */
  boundAccessTokens?: boolean;
}

const CLIENT_CERTIFICATE_NAMES = {
  cert: true,
  key: true,
  caCerts: true,
  boundAccessTokens: true,
} as const satisfies Record<keyof ClientCertificate, true>;

const PRIVATE_KEY_LABELS = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/**
 * A `fetch` that presents a client certificate, and the `close()` that frees
 * its connections.
 *
 * @example Closing with `using`
 * ```ts ignore
 * import { createMtlsFetch, type MtlsFetch } from "@alf/client";
 *
 * using mtls: MtlsFetch = createMtlsFetch(
 *   await Deno.readTextFile("client.pem"),
 *   await Deno.readTextFile("client.key"),
 * );
 * await (await mtls.fetch("https://mtls.api.example.com/")).body?.cancel();
 * ```
 */
export interface MtlsFetch extends Disposable {
  /** Sends a request like global `fetch`, over connections that present the certificate. */
  readonly fetch: typeof fetch;
  /** Closes the connections; later requests fail. */
  close(): void;
}

/**
 * Options of {@linkcode createMtlsFetch}.
 *
 * @example Trusting a private CA
 * ```ts ignore
 * import type { MtlsFetchOptions } from "@alf/client";
 *
 * const options: MtlsFetchOptions = { caCerts: [await Deno.readTextFile("ca.pem")] };
 * ```
 */
export interface MtlsFetchOptions {
  /** Root certificates (PEM) trusted besides the default ones. */
  caCerts?: string[];
  /**
   * The `fetch` to send through: it gets `init.client`, the `Deno.HttpClient`
   * that presents the certificate, and must pass it on. Default:
   * `globalThis.fetch`.
   */
  fetch?: typeof fetch;
}

/**
 * Creates a `fetch` whose connections present a client certificate (mutual
 * TLS), through `Deno.createHttpClient({ cert, key })`.
 *
 * The certificate and key are checked now: a text without a PEM certificate,
 * a key that is no unencrypted PEM private key, or a key that does not match
 * the certificate is a `TypeError` here, not at the first request. Neither is
 * kept by the returned object, nor shown in its errors. Needs Deno: other
 * runtimes have no `Deno.createHttpClient`.
 *
 * @param cert The client's certificate as PEM, then any intermediates.
 * @param key The certificate's private key as PEM.
 * @param options Extra trusted roots, and the `fetch` to send through.
 * @returns The `fetch`, and `close()` to call when done.
 * @throws {TypeError} when the certificate, the key or `caCerts` is unusable,
 * or the runtime has no `Deno.createHttpClient`.
 *
 * @example Refusing a key that is a certificate
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMtlsFetch } from "@alf/client";
 *
 * const cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
 * assert.throws(() => createMtlsFetch(cert, cert), TypeError);
 * ```
 *
 * @example Calling a server that wants the client's certificate
 * ```ts ignore
 * import { createMtlsFetch } from "@alf/client";
 *
 * using mtls = createMtlsFetch(
 *   await Deno.readTextFile("client.pem"),
 *   await Deno.readTextFile("client.key"),
 * );
 * const response = await mtls.fetch("https://mtls.api.example.com/orders");
 * ```
 */
export function createMtlsFetch(
  cert: string,
  key: string,
  options: MtlsFetchOptions = {},
): MtlsFetch {
  const context = "Cannot create the mTLS fetch";
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${context}: options must be an object`);
  }
  checkKnownOptions(options, { caCerts: true, fetch: true }, "mTLS fetch");
  if (options.fetch !== undefined && typeof options.fetch !== "function") {
    throw new TypeError(`${context}: "fetch" must be a function`);
  }
  const pem = checkPem(cert, key, options.caCerts, context, "");
  return openMtlsFetch(pem, options.fetch, context, "the certificate or key");
}

/**
 * The `fetch` of a client's checked `clientCertificate` (see
 * {@linkcode parseClientCertificate}), through the client's transport.
 *
 * @throws {TypeError} when the key does not match the certificate, or the
 * runtime has no `Deno.createHttpClient`.
 */
export function openClientCertificate(
  certificate: ClientCertificate,
  fetch: typeof globalThis.fetch,
): MtlsFetch {
  const { cert, key, caCerts } = certificate;
  const pem = caCerts === undefined ? { cert, key } : { cert, key, caCerts };
  return openMtlsFetch(pem, fetch, "Cannot create the client", '"clientCertificate"');
}

/** Opens the `Deno.HttpClient` of checked PEM texts; `subject` names them in errors. */
function openMtlsFetch(
  pem: { cert: string; key: string; caCerts?: string[] },
  fetch: typeof globalThis.fetch | undefined,
  context: string,
  subject: string,
): MtlsFetch {
  const create = (globalThis as { Deno?: { createHttpClient?: unknown } }).Deno?.createHttpClient;
  if (typeof create !== "function") {
    throw new TypeError(
      `${context}: the runtime has no Deno.createHttpClient (mutual TLS needs Deno)`,
    );
  }
  let client: Deno.HttpClient;
  try {
    client = Deno.createHttpClient(pem);
  } catch (cause) {
    // rustls says what is wrong ("KeyMismatch", "BadEncoding"), never what the key is.
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TypeError(`${context}: ${subject} is unusable: ${reason}`, { cause });
  }
  const base = fetch ?? ((input, init) => globalThis.fetch(input, init));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    client.close();
  };
  return {
    fetch: (input, init) => base(input, { ...init, client }),
    close,
    [Symbol.dispose]: close,
  };
}

/**
 * Checks the `clientCertificate` option of a client against its `clientAuth`.
 *
 * @param value The option as given.
 * @param clientAuth The client's authentication method: the mutual-TLS ones
 *   need a certificate ([RFC 8705 §2](https://www.rfc-editor.org/rfc/rfc8705#section-2)).
 * @returns The certificate with PEM texts normalized, or `undefined` when none is given.
 * @throws {TypeError} when a mutual-TLS method has no certificate, or the certificate is malformed.
 */
export function parseClientCertificate(
  value: unknown,
  clientAuth: unknown,
): ClientCertificate | undefined {
  const context = "Cannot create the client";
  if (value === undefined) {
    if (isTlsClientAuth(clientAuth)) {
      throw new TypeError(`${context}: "clientAuth" ${clientAuth} needs a "clientCertificate"`);
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${context}: "clientCertificate" must be an object with "cert" and "key"`);
  }
  checkKnownOptions(value, CLIENT_CERTIFICATE_NAMES, 'client ("clientCertificate")');
  const { cert, key, caCerts, boundAccessTokens = false } = value as ClientCertificate;
  if (typeof boundAccessTokens !== "boolean") {
    throw new TypeError(`${context}: "clientCertificate.boundAccessTokens" must be a boolean`);
  }
  return { ...checkPem(cert, key, caCerts, context, "clientCertificate."), boundAccessTokens };
}

/**
 * Whether a client presents its certificate in TLS: with a mutual-TLS
 * `clientAuth`, or `boundAccessTokens`.
 *
 * @param certificate The checked `clientCertificate`, if any.
 * @param clientAuth The client's method, `undefined` while discovery is to choose it.
 * @throws {TypeError} when a certificate is given that nothing would use: not
 *   presented, and not `private_key_jwt` (whose assertions carry its thumbprint).
 */
export function presentsCertificate(
  certificate: ClientCertificate | undefined,
  clientAuth: string | undefined,
): boolean {
  if (certificate === undefined) return false;
  if (isTlsClientAuth(clientAuth) || certificate.boundAccessTokens === true) return true;
  if (clientAuth === "private_key_jwt") return false;
  throw new TypeError(
    'Cannot create the client: "clientCertificate" needs "clientAuth" tls_client_auth, ' +
      'self_signed_tls_client_auth or private_key_jwt, or "clientCertificate.boundAccessTokens"',
  );
}

/**
 * What tells a client that presents a certificate apart in the storage key
 * (which holds only its hash): its other credential, if any, and the leaf
 * certificate's bytes. A token bound to one certificate is of no use with
 * another ([RFC 8705 §3](https://www.rfc-editor.org/rfc/rfc8705#section-3)).
 *
 * @param cert The certificate as checked by {@linkcode parseClientCertificate}.
 * @param credential The client's secret or key credential, if any.
 */
export function certificateCredential(cert: string, credential: string | undefined): string {
  const leaf = pemBlocks(cert).find((block) => block.label === "CERTIFICATE");
  return [credential, `certificate ${base64url(leaf?.der ?? new Uint8Array())}`]
    .filter((part) => part !== undefined).join("\n");
}

/** The PEM texts checked for what they must hold, with `\n` written as two characters undone. */
function checkPem(
  cert: unknown,
  key: unknown,
  caCerts: unknown,
  context: string,
  prefix: string,
): { cert: string; key: string; caCerts?: string[] } {
  // A PEM kept in an environment variable often carries "\n" as two characters.
  const normalize = (text: string) => text.replace(/\\n/g, "\n");
  const labels = (text: string) => pemBlocks(normalize(text)).map((block) => block.label);
  if (typeof cert !== "string" || !labels(cert).includes("CERTIFICATE")) {
    throw new TypeError(`${context}: "${prefix}cert" must be a PEM-encoded X.509 certificate`);
  }
  if (typeof key !== "string") {
    throw new TypeError(`${context}: "${prefix}key" must be a PEM-encoded private key`);
  }
  const keyLabels = labels(key);
  if (keyLabels.includes("ENCRYPTED PRIVATE KEY")) {
    throw new TypeError(
      `${context}: "${prefix}key" is an encrypted private key; decrypt it first (openssl pkcs8 -nocrypt)`,
    );
  }
  if (!keyLabels.some((label) => PRIVATE_KEY_LABELS.includes(label))) {
    const held = keyLabels.length > 0 ? `holds a ${keyLabels.join(", ")}` : "holds no PEM block";
    throw new TypeError(`${context}: "${prefix}key" ${held}, not a private key`);
  }
  if (
    caCerts !== undefined &&
    !(Array.isArray(caCerts) &&
      caCerts.every((ca) => typeof ca === "string" && labels(ca).includes("CERTIFICATE")))
  ) {
    throw new TypeError(
      `${context}: "${prefix}caCerts" must be a list of PEM-encoded certificates`,
    );
  }
  return {
    cert: normalize(cert),
    key: normalize(key),
    ...(caCerts === undefined ? {} : { caCerts: (caCerts as string[]).map(normalize) }),
  };
}
