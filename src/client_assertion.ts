/**
 * Client authentication with a signed JWT: `private_key_jwt` and
 * `client_secret_jwt`
 * ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2),
 * [RFC 7521 §4.2](https://www.rfc-editor.org/rfc/rfc7521#section-4.2),
 * [OpenID Connect Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication)).
 *
 * @module
 */

import {
  base64url,
  certificateDer,
  checkPrivateKey,
  importSecret,
  type SigningKey,
  signJwt,
} from "./_jwt.ts";
import { redactInspect } from "./_redact.ts";
import { authenticate, type ClientAuthMethod } from "./client_auth.ts";

/**
 * The client authentication methods that send a signed JWT
 * ([OpenID Connect Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication)).
 *
 * @example Choosing by the credential
 * ```ts
 * import type { ClientAssertionMethod } from "@alf/client";
 *
 * const method: ClientAssertionMethod = "private_key_jwt"; // or "client_secret_jwt"
 * ```
 *
 * - `"private_key_jwt"`: signed with the client's private key; the server
 *   holds the public key.
 * - `"client_secret_jwt"`: HS256 over the client secret, which never leaves
 *   the client.
 */
export type ClientAssertionMethod = "private_key_jwt" | "client_secret_jwt";

/**
 * A private key to sign client assertions with: a `CryptoKey` (non-extractable
 * is fine), a private JWK, or a PEM string (PKCS#8 `PRIVATE KEY`; PKCS#1
 * `RSA PRIVATE KEY` and SEC1 `EC PRIVATE KEY` are accepted too).
 *
 * @example A key from an environment variable
 * ```ts ignore
 * import type { ClientKey } from "@alf/client";
 *
 * const key: ClientKey = Deno.env.get("CLIENT_KEY_PEM")!;
 * ```
 */
export type ClientKey = CryptoKey | (JsonWebKey & { kid?: string }) | string;

/**
 * Which value a client assertion's `aud` claim carries. Servers disagree
 * ([RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3) leaves it
 * to them), so it is a choice:
 *
 * - `"issuer"` (default): the authorization server's issuer identifier when
 *   it is known (from discovery), else the token endpoint: the current
 *   guidance ([RFC 9126 §2](https://www.rfc-editor.org/rfc/rfc9126#section-2),
 *   FAPI 2.0), and what oidc-provider, Keycloak and Auth0 accept.
 * - `"token_endpoint"`: always the token endpoint URL, as Microsoft Entra ID
 *   requires.
 * - `"endpoint"`: the URL the request goes to (the token or the revocation
 *   endpoint), as Okta requires.
 *
 * @example Entra ID wants the token endpoint
 * ```ts
 * import type { ClientAssertionAudience } from "@alf/client";
 *
 * const audience: ClientAssertionAudience = "token_endpoint";
 * ```
 */
export type ClientAssertionAudience = "issuer" | "token_endpoint" | "endpoint";

/**
 * Options of {@linkcode ClientAssertion}: the client id and either a private
 * key (`private_key_jwt`) or a secret (`client_secret_jwt`).
 *
 * @example A P-256 key made in WebCrypto
 * ```ts
 * import { ClientAssertion, type ClientAssertionOptions } from "@alf/client";
 *
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   false,
 *   ["sign", "verify"],
 * );
 * const options: ClientAssertionOptions = {
 *   clientId: "service",
 *   clientKey: privateKey,
 *   clientKeyId: "2024-06",
 * };
 * const assertion = new ClientAssertion(options);
 * ```
 */
export interface ClientAssertionOptions {
  /** The client identifier: the assertion's `iss` and `sub`. */
  clientId: string;
  /** The private key (`private_key_jwt`). Give this or `clientSecret`, not both. */
  clientKey?: ClientKey;
  /** The key's `kid`, sent in the JWS header. Default: the JWK's `kid`, if any. */
  clientKeyId?: string;
  /** The client secret (`client_secret_jwt`, HS256). Give this or `clientKey`. */
  clientSecret?: string;
  /**
   * The algorithm. Default: by the key's type: `RS256` for RSA, `ES256` for
   * EC P-256, `EdDSA` for Ed25519, `HS256` for a secret. Set `"PS256"` to
   * sign with an RSA key (PEM or JWK) by RSA-PSS, as Entra ID recommends.
   */
  algorithm?: "RS256" | "PS256" | "ES256" | "EdDSA";
  /** Which value `aud` carries; see {@linkcode ClientAssertionAudience}. Default: `"issuer"`. */
  audience?: ClientAssertionAudience;
  /**
   * The X.509 certificate of the key, as PEM: its thumbprints go in the
   * header as `x5t#S256` and `x5t`
   * ([RFC 7515 §4.1.8](https://www.rfc-editor.org/rfc/rfc7515#section-4.1.8)),
   * which Entra ID uses to find the key.
   */
  certificate?: string;
  /** How long an assertion is valid, in milliseconds. Default: 60 000. */
  lifetime?: number;
  /** The clock, epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
}

/**
 * Where an assertion is sent, to choose its `aud`.
 *
 * @example A revocation request to a discovered server
 * ```ts
 * import type { AssertionTarget } from "@alf/client";
 *
 * const target: AssertionTarget = {
 *   endpoint: "https://auth.example.com/oauth/revoke",
 *   tokenEndpoint: "https://auth.example.com/oauth/token",
 *   issuer: "https://auth.example.com",
 * };
 * ```
 */
export interface AssertionTarget {
  /** The URL the request is sent to. */
  endpoint: string | URL;
  /** The token endpoint, when the request goes elsewhere (revocation). */
  tokenEndpoint?: string | URL;
  /** The authorization server's issuer identifier, when known (discovery). */
  issuer?: string;
}

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEFAULT_LIFETIME = 60_000;

/**
 * Signs the client assertions of `private_key_jwt` and `client_secret_jwt`
 * client authentication, one per request.
 *
 * Each assertion has `iss` = `sub` = the client id, `aud` (see
 * {@linkcode ClientAssertionAudience}), a fresh `jti`, `iat`, `nbf` and an
 * `exp` a minute ahead ([RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3)).
 * The key is checked when the object is created (a PEM that holds no private
 * key is a `TypeError` then) and imported once, with WebCrypto. Neither key
 * nor secret shows in `Deno.inspect`, `JSON.stringify` or errors.
 *
 * @example Authenticating a token request by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientAssertion } from "@alf/client";
 *
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "Ed25519" },
 *   false,
 *   ["sign", "verify"],
 * ) as CryptoKeyPair;
 * const assertion = new ClientAssertion({ clientId: "service", clientKey: privateKey });
 * const form = await assertion.formParams({ endpoint: "https://auth.example.com/token" });
 * assert.equal(
 *   form.get("client_assertion_type"),
 *   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
 * );
 * assert.equal(form.get("client_assertion")?.split(".").length, 3);
 * ```
 */
export class ClientAssertion {
  /** The authentication method: by the credential given. */
  readonly method: ClientAssertionMethod;
  /** The client identifier. */
  readonly clientId: string;
  /** The JWS algorithm: by the key's type, or `HS256` for a secret. */
  readonly algorithm: "RS256" | "PS256" | "ES256" | "EdDSA" | "HS256";
  /** Which value `aud` carries. */
  readonly audience: ClientAssertionAudience;
  readonly #sign: () => Promise<CryptoKey>;
  readonly #keyId?: string;
  readonly #certificate?: Uint8Array<ArrayBuffer>;
  readonly #lifetime: number;
  readonly #now: () => number;

  static {
    redactInspect(ClientAssertion, (assertion) => ({
      method: assertion.method,
      clientId: assertion.clientId,
      algorithm: assertion.algorithm,
      audience: assertion.audience,
      keyId: assertion.#keyId,
    }));
  }

  /**
   * Checks the credential; nothing is signed until {@linkcode ClientAssertion.prototype.sign}.
   *
   * @param options The client id and the key or secret.
   * @throws {TypeError} when an option is missing or malformed, or the key
   * cannot sign (a public key, a certificate, an unsupported type).
   * @throws {RangeError} when `lifetime` is not a positive number.
   */
  constructor(options: ClientAssertionOptions) {
    const context = "Cannot create the ClientAssertion";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`${context}: options must be an object`);
    }
    const { clientId, clientKey, clientKeyId, clientSecret, algorithm, certificate } = options;
    if (typeof clientId !== "string" || clientId === "") {
      throw new TypeError(`${context}: "clientId" must be a non-empty string`);
    }
    if ((clientKey === undefined) === (clientSecret === undefined)) {
      throw new TypeError(`${context}: give either "clientKey" or "clientSecret"`);
    }
    if (clientKeyId !== undefined && (typeof clientKeyId !== "string" || clientKeyId === "")) {
      throw new TypeError(`${context}: "clientKeyId" must be a non-empty string`);
    }
    const audience = options.audience ?? "issuer";
    if (!["issuer", "token_endpoint", "endpoint"].includes(audience)) {
      throw new TypeError(
        `${context}: "audience" must be one of issuer, token_endpoint, endpoint`,
      );
    }
    const lifetime = options.lifetime ?? DEFAULT_LIFETIME;
    if (typeof lifetime !== "number" || !(lifetime >= 1000) || !Number.isFinite(lifetime)) {
      throw new RangeError(`${context}: "lifetime" must be a number of milliseconds >= 1000`);
    }
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new TypeError(`${context}: "now" must be a function`);
    }
    if (clientSecret !== undefined) {
      if (typeof clientSecret !== "string" || clientSecret === "") {
        throw new TypeError(`${context}: "clientSecret" must be a non-empty string`);
      }
      if (algorithm !== undefined) {
        throw new TypeError(`${context}: "algorithm" applies to a "clientKey" only`);
      }
      this.method = "client_secret_jwt";
      this.algorithm = "HS256";
      let key: Promise<CryptoKey> | undefined;
      this.#sign = () => key ??= importSecret(clientSecret);
      this.#keyId = clientKeyId;
    } else {
      if (algorithm !== undefined && !["RS256", "PS256", "ES256", "EdDSA"].includes(algorithm)) {
        throw new TypeError(`${context}: "algorithm" must be one of RS256, PS256, ES256, EdDSA`);
      }
      const key: SigningKey = checkPrivateKey(
        clientKey,
        algorithm,
        (reason) => new TypeError(`${context}: "clientKey" ${reason}`),
      );
      this.method = "private_key_jwt";
      this.algorithm = key.alg;
      this.#sign = key.key;
      this.#keyId = clientKeyId ?? key.kid;
    }
    if (certificate !== undefined) {
      if (clientKey === undefined) {
        throw new TypeError(`${context}: "certificate" applies to a "clientKey" only`);
      }
      const der = typeof certificate === "string" ? certificateDer(certificate) : undefined;
      if (der === undefined) {
        throw new TypeError(`${context}: "certificate" must be a PEM-encoded X.509 certificate`);
      }
      this.#certificate = der;
    }
    this.clientId = clientId;
    this.audience = audience;
    this.#lifetime = lifetime;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The `aud` for a request to `target`, by {@linkcode ClientAssertion.prototype.audience}.
   *
   * @param target Where the request goes, and the issuer when known.
   * @returns The audience string.
   */
  audienceFor(target: AssertionTarget): string {
    const endpoint = String(target.endpoint);
    const tokenEndpoint = String(target.tokenEndpoint ?? endpoint);
    switch (this.audience) {
      case "issuer":
        return target.issuer ?? tokenEndpoint;
      case "token_endpoint":
        return tokenEndpoint;
      case "endpoint":
        return endpoint;
    }
  }

  /**
   * Signs a new assertion for one request.
   *
   * @param target Where the request goes, and the issuer when known.
   * @returns The compact JWS.
   * @throws {TypeError} when the key cannot be imported.
   */
  async sign(target: AssertionTarget): Promise<string> {
    const key = await this.#sign();
    const now = Math.floor(this.#now() / 1000);
    const header: Record<string, unknown> = { typ: "JWT" };
    if (this.#keyId !== undefined) header.kid = this.#keyId;
    if (this.#certificate !== undefined) {
      const der = this.#certificate;
      header["x5t#S256"] = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", der)));
      header.x5t = base64url(new Uint8Array(await crypto.subtle.digest("SHA-1", der)));
    }
    const claims = {
      iss: this.clientId,
      sub: this.clientId,
      // One string, never a list: Entra ID refuses a list (openid-client#348).
      aud: this.audienceFor(target),
      jti: crypto.randomUUID(),
      iat: now,
      nbf: now,
      exp: now + Math.floor(this.#lifetime / 1000),
    };
    return await signJwt(header, claims, key, this.algorithm);
  }

  /**
   * The form parameters that authenticate one request: `client_assertion_type`
   * and a new `client_assertion`
   * ([RFC 7521 §4.2](https://www.rfc-editor.org/rfc/rfc7521#section-4.2)).
   *
   * @param target Where the request goes, and the issuer when known.
   * @returns The two parameters.
   * @throws {TypeError} when the key cannot be imported.
   */
  async formParams(target: AssertionTarget): Promise<URLSearchParams> {
    return new URLSearchParams([
      ["client_assertion_type", ASSERTION_TYPE],
      ["client_assertion", await this.sign(target)],
    ]);
  }
}

/**
 * How a request authenticates the client: one of the methods of
 * [RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3), or an
 * assertion.
 */
export interface ClientCredentials {
  /** The client identifier. */
  clientId: string;
  /** The method. */
  clientAuth: ClientAuthMethod | ClientAssertionMethod;
  /** The secret, for the `client_secret_*` methods other than `client_secret_jwt`. */
  clientSecret?: string;
  /** The assertion signer, for the `*_jwt` methods. */
  clientAssertion?: ClientAssertion;
}

/**
 * Adds the client's authentication to a form POST: the secret methods through
 * {@linkcode authenticate}, an assertion as its form parameters with
 * `client_id` alongside (allowed by
 * [RFC 7521 §4.2](https://www.rfc-editor.org/rfc/rfc7521#section-4.2), and
 * expected by Entra ID).
 *
 * @param credentials The client and its method.
 * @param target Where the request goes, for an assertion's `aud`.
 * @param headers The request headers, changed in place.
 * @param form The request form, changed in place.
 * @throws {TypeError} when a `*_jwt` method has no assertion signer.
 */
export async function addClientAuthentication(
  credentials: ClientCredentials,
  target: AssertionTarget,
  headers: Headers,
  form: URLSearchParams,
): Promise<void> {
  const { clientId, clientAuth, clientSecret, clientAssertion } = credentials;
  if (clientAuth !== "private_key_jwt" && clientAuth !== "client_secret_jwt") {
    authenticate(clientAuth, clientId, clientSecret, headers, form);
    return;
  }
  if (clientAssertion?.method !== clientAuth) {
    throw new TypeError(`Cannot authenticate the client: ${clientAuth} needs a ClientAssertion`);
  }
  form.set("client_id", clientId);
  for (const [name, value] of await clientAssertion.formParams(target)) form.set(name, value);
}
