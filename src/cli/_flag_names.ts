// The command's own words in messages that come from the library: its flags
// (`--allow-http`), not the option names a program passes (`"allowHttp"`).

/** Library option names, quoted as the library's messages quote them, and the flags that set them. */
const FLAGS: [RegExp, string][] = [
  [/\bset "allowHttp"/g, "pass --allow-http"],
  [/"allowHttp"/g, "--allow-http"],
  [/"tokenEndpoint"/g, "--token-endpoint (ALF_TOKEN_ENDPOINT)"],
  [/"authorizationEndpoint"/g, "--authorization-endpoint (ALF_AUTHORIZATION_ENDPOINT)"],
  [
    /"deviceAuthorizationEndpoint"/g,
    "--device-authorization-endpoint (ALF_DEVICE_AUTHORIZATION_ENDPOINT)",
  ],
  [/"revocationEndpoint"/g, "--revocation-endpoint (ALF_REVOCATION_ENDPOINT)"],
  [/"clientId"/g, "--client-id (ALF_CLIENT_ID)"],
  [/"clientSecret"/g, "--client-secret (ALF_CLIENT_SECRET)"],
  [/"clientAuth"/g, "--client-auth (ALF_CLIENT_AUTH)"],
  [/"tokenParams"/g, "--token-param"],
  // The login's PortRange, [first, last], is written FROM-TO on the command line.
  [/\bthe port range\b/g, "--login-ports (ALF_LOGIN_PORTS)"],
  [/\[first, last\]/g, "FROM-TO"],
  [/\bfirst <= last\b/g, "FROM <= TO"],
];

/**
 * `message` with the library's option names replaced by the command's flags:
 * `"tokenEndpoint" must use https: (..., or set "allowHttp")` reads
 * `--token-endpoint (ALF_TOKEN_ENDPOINT) must use https: (..., or pass --allow-http)`.
 */
export function withFlagNames(message: string): string {
  return FLAGS.reduce((text, [name, flag]) => text.replace(name, flag), message);
}
