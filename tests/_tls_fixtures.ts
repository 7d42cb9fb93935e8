// Test certificates made at test time (WebCrypto ECDSA P-256 and a minimal DER/X.509 writer, so
// no private key is ever a committed file and no `openssl` is needed), and a loopback HTTPS server
// that requests a client certificate and tells each handler which one was presented
// (RFC 8705 §2: the server, not the client, checks the certificate).

import { createHash } from "node:crypto";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  cert: string;
  key: string;
  /** The certificate's SHA-256 thumbprint, base64url: `x5t#S256` (RFC 8705 §3.1). */
  thumbprint: string;
  /** The DER bytes of the certificate. */
  der: Uint8Array;
}

// --- DER (X.690), just what a certificate needs ---

const concat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, (at += part.length) - part.length);
  return out;
};

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concat(...content);
  const n = body.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat(Uint8Array.of(tag, ...length), body);
}

const seq = (...content: Uint8Array[]) => tlv(0x30, ...content);
const set = (...content: Uint8Array[]) => tlv(0x31, ...content);
const explicit = (n: number, ...content: Uint8Array[]) => tlv(0xa0 + n, ...content);
const utf8 = (text: string) => tlv(0x0c, new TextEncoder().encode(text));
const octets = (...content: Uint8Array[]) => tlv(0x04, ...content);
const bits = (bytes: Uint8Array, unused = 0) => tlv(0x03, Uint8Array.of(unused), bytes);
const TRUE = Uint8Array.of(0x01, 0x01, 0xff);

/** A positive INTEGER from big-endian bytes (leading zeros dropped, a sign byte added). */
function integer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, (trimmed[0] ?? 0) & 0x80 ? concat(Uint8Array.of(0), trimmed) : trimmed);
}

function oid(dotted: string): Uint8Array<ArrayBuffer> {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
    out.push(...base128);
  }
  return tlv(0x06, Uint8Array.from(out));
}

function time(ms: number): Uint8Array<ArrayBuffer> {
  // UTCTime, YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1), fine until 2050.
  const text = new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return tlv(0x17, new TextEncoder().encode(text));
}

function name(fields: Record<string, string>): Uint8Array<ArrayBuffer> {
  const OIDS: Record<string, string> = { CN: "2.5.4.3", O: "2.5.4.10" };
  return seq(
    ...Object.entries(fields).map(([k, v]) => set(seq(oid(OIDS[k] ?? k), utf8(v)))),
  );
}

const extension = (id: string, critical: boolean, value: Uint8Array) =>
  seq(oid(id), ...(critical ? [TRUE] : []), octets(value));

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

/** WebCrypto's r || s as the DER `Ecdsa-Sig-Value` X.509 wants (RFC 3279 §2.2.3). */
const ecdsaDer = (raw: Uint8Array) => seq(integer(raw.subarray(0, 32)), integer(raw.subarray(32)));

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${
    btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n").trimEnd()
  }\n-----END ${label}-----\n`;

/** The base64url SHA-256 of a certificate's DER: its `x5t#S256`. */
export function thumbprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("base64url");
}

interface Issuer {
  subject: Record<string, string>;
  privateKey: CryptoKey;
}

interface CertificateRequest {
  subject: Record<string, string>;
  /** Signs the certificate; itself (self-signed) when absent. */
  issuer?: Issuer;
  ca?: boolean;
  /** IP addresses for the subjectAltName. */
  ips?: string[];
  /** Extended key usage: serverAuth or clientAuth. */
  usage?: "server" | "client";
}

async function issue(request: CertificateRequest): Promise<CertifiedKey & Issuer> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const issuer = request.issuer ?? { subject: request.subject, privateKey: pair.privateKey };
  const extensions = [];
  if (request.ca) {
    extensions.push(extension("2.5.29.19", true, seq(TRUE)));
    extensions.push(extension("2.5.29.15", true, bits(Uint8Array.of(0x06), 1))); // keyCertSign, cRLSign
  } else {
    extensions.push(extension("2.5.29.15", true, bits(Uint8Array.of(0x80), 7))); // digitalSignature
    const usage = request.usage === "server" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2";
    extensions.push(extension("2.5.29.37", false, seq(oid(usage))));
  }
  if (request.ips) {
    const ips = request.ips.map((ip) => tlv(0x87, Uint8Array.from(ip.split(".").map(Number))));
    extensions.push(extension("2.5.29.17", false, seq(...ips)));
  }
  const now = Date.now();
  const tbs = seq(
    explicit(0, integer(Uint8Array.of(2))),
    integer(crypto.getRandomValues(new Uint8Array(16))),
    ECDSA_SHA256,
    name(issuer.subject),
    seq(time(now - 3_600_000), time(now + 86_400_000)),
    name(request.subject),
    new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey)),
    explicit(3, seq(...extensions)),
  );
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    issuer.privateKey,
    tbs,
  );
  const der = seq(tbs, ECDSA_SHA256, bits(ecdsaDer(new Uint8Array(signature))));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return {
    cert: pem("CERTIFICATE", der),
    key: pem("PRIVATE KEY", pkcs8),
    thumbprint: thumbprint(der),
    der,
    subject: request.subject,
    privateKey: pair.privateKey,
  };
}

/** Everything a mutual-TLS test needs, made fresh for each run. */
export interface TlsFixtures {
  /** The root the server's certificate chains to: the client's `caCerts`. */
  serverCa: string;
  /** The server's certificate (for 127.0.0.1) and key. */
  server: CertifiedKey;
  /** A root for client certificates (`tls_client_auth`, RFC 8705 §2.1.1). */
  clientCa: string;
  /** A client certificate `CN=client-id, O=Alf` issued by `clientCa`. */
  pkiClient: CertifiedKey;
  /** A self-signed client certificate (`self_signed_tls_client_auth`, RFC 8705 §2.2). */
  selfSigned: CertifiedKey;
  /** Another self-signed certificate, registered nowhere. */
  stranger: CertifiedKey;
}

/** Makes a server CA and certificate, a client CA and certificate, and two self-signed ones. */
export async function makeTlsFixtures(): Promise<TlsFixtures> {
  const serverCa = await issue({ subject: { CN: "Alf test server CA" }, ca: true });
  const server = await issue({
    subject: { CN: "127.0.0.1" },
    issuer: serverCa,
    ips: ["127.0.0.1"],
    usage: "server",
  });
  const clientCa = await issue({ subject: { CN: "Alf test client CA" }, ca: true });
  const pkiClient = await issue({ subject: { CN: "client-id", O: "Alf" }, issuer: clientCa });
  const selfSigned = await issue({ subject: { CN: "client-id" } });
  const stranger = await issue({ subject: { CN: "stranger" } });
  return {
    serverCa: serverCa.cert,
    server,
    clientCa: clientCa.cert,
    pkiClient,
    selfSigned,
    stranger,
  };
}

/** The client certificate a request came with, as the server saw it. */
export interface PeerCertificate {
  /** `x5t#S256` of the presented certificate. */
  thumbprint: string;
  /** Its subject's attributes, sorted: `CN=client-id, O=Alf`. */
  subject: string;
  /** Whether it chains to the server's `ca` for client certificates. */
  authorized: boolean;
}

/** What the mTLS server's handler gets. */
export interface MtlsRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The presented client certificate, or `undefined` when none was. */
  peer: PeerCertificate | undefined;
}

/** A handler's answer: status, JSON body, and headers. */
export interface MtlsAnswer {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
}

/** A running mTLS server. */
export interface MtlsServer extends AsyncDisposable {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** Every request, in order. */
  requests: MtlsRequest[];
  close(): Promise<void>;
}

/**
 * Starts an HTTPS server on 127.0.0.1 that requests (without requiring) a client certificate,
 * and verifies it against `clientCa` when given. `node:https` under Deno can do this; the
 * options of `Deno.serve` and `Deno.listenTls` (Deno 2.9.6) have no way to ask for one.
 */
export function startMtlsServer(
  tls: { cert: string; key: string; clientCa?: string },
  handler: (request: MtlsRequest) => MtlsAnswer | Promise<MtlsAnswer>,
): Promise<MtlsServer> {
  const requests: MtlsRequest[] = [];
  const server = https.createServer({
    cert: tls.cert,
    key: tls.key,
    ca: tls.clientCa,
    requestCert: true,
    // Any certificate reaches the handler, which decides (RFC 8705 §2.1.1, §2.2.1).
    rejectUnauthorized: false,
  }, async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk as Uint8Array);
    const socket = req.socket as TLSSocket;
    const presented = socket.getPeerCertificate(false) as { raw?: Uint8Array; subject?: object };
    const peer = presented?.raw === undefined ? undefined : {
      thumbprint: thumbprint(presented.raw),
      // Sorted: the order of the attributes is the runtime's.
      subject: Object.entries(presented.subject ?? {}).map(([k, v]) => `${k}=${v}`).sort().join(
        ", ",
      ),
      authorized: socket.authorized,
    };
    const request: MtlsRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body: new TextDecoder().decode(concat(...chunks)),
      peer,
    };
    requests.push(request);
    let answer: MtlsAnswer;
    try {
      answer = await handler(request);
    } catch (error) {
      answer = { status: 500, json: { error: String(error) } };
    }
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(answer.json === undefined ? "" : JSON.stringify(answer.json));
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `https://127.0.0.1:${port}`, requests, close, [Symbol.asyncDispose]: close });
    });
  });
}

/** What {@linkcode startMtlsAuthServer} checks a client certificate by (RFC 8705 §2.1.2, §2.2.2). */
export type MtlsCheck =
  | { method: "self_signed_tls_client_auth"; thumbprints: string[] }
  | { method: "tls_client_auth"; subject: string };

/**
 * A token endpoint (`POST /token`, client credentials) that authenticates `client-id` by its
 * certificate and binds each token to it (`cnf.x5t#S256`, RFC 8705 §3.1), a revocation endpoint
 * (`POST /revoke`) that authenticates the same way, and a resource (`/resource`) that accepts a
 * token only over a connection with the same certificate.
 */
export async function startMtlsAuthServer(
  fixtures: TlsFixtures,
  check: MtlsCheck,
): Promise<
  MtlsServer & { tokenEndpoint: string; revocationEndpoint: string; resourceUrl: string }
> {
  const bound = new Map<string, string>();
  let issued = 0;
  const unauthorized = (error: string): MtlsAnswer => ({
    status: 401,
    json: { error, error_description: "The client certificate is not the registered one" },
  });
  const server = await startMtlsServer(
    { cert: fixtures.server.cert, key: fixtures.server.key, clientCa: fixtures.clientCa },
    ({ method, path, headers, body, peer }) => {
      const form = new URLSearchParams(body);
      const authenticated = form.get("client_id") === "client-id" && peer !== undefined &&
        (check.method === "self_signed_tls_client_auth"
          ? check.thumbprints.includes(peer.thumbprint)
          : peer.authorized && peer.subject === check.subject);
      if (method === "POST" && path === "/revoke") {
        if (!authenticated) return unauthorized("invalid_client");
        bound.delete(form.get("token") ?? "");
        return { status: 200 };
      }
      if (method === "POST" && path === "/token") {
        if (!authenticated) return unauthorized("invalid_client");
        const token = `at-${++issued}`;
        bound.set(token, peer!.thumbprint);
        return {
          status: 200,
          json: { access_token: token, token_type: "Bearer", expires_in: 3600 },
        };
      }
      if (path.startsWith("/resource")) {
        const token = String(headers.authorization ?? "").replace(/^Bearer /, "");
        const thumbprint = bound.get(token);
        if (thumbprint === undefined || thumbprint !== peer?.thumbprint) {
          return {
            status: 401,
            headers: { "www-authenticate": 'Bearer error="invalid_token"' },
            json: { error: "invalid_token" },
          };
        }
        return { status: 200, json: { token, thumbprint } };
      }
      return { status: 404 };
    },
  );
  return {
    ...server,
    tokenEndpoint: `${server.url}/token`,
    revocationEndpoint: `${server.url}/revoke`,
    resourceUrl: `${server.url}/resource`,
  };
}
