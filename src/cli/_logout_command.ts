// `alf logout`: revokes the stored login's token and forgets it.

import { TokenError } from "../../mod.ts";
import { configSetting, openClient } from "./_client_config.ts";
import type { Command } from "./_command.ts";
import { CliError, EXIT_CODE, oneLine, usageError } from "./exit_code.ts";

/** The `alf logout` command. */
export const logoutCommand: Command = {
  name: "logout",
  summary: "revoke the stored token and forget it (--kv or --redis)",
  help: `alf logout: revoke the stored token at the revocation endpoint and forget it

The refresh token of a --login login (else the access token) is revoked, with
the client's authentication (RFC 7009), then deleted from the --kv file or from
Redis: the next run obtains a new token (with --login, through the browser).
Give the configuration the runs that logged in had: it names the stored token.
What was done goes to stderr.

Usage:
  alf logout (--kv PATH | --redis URL) --revocation-endpoint URL [configuration]

Options:
  -h, --help   show this help

Exit codes: 0 revoked and forgotten, or nothing stored; 3 the revocation
endpoint refused, failed or could not be reached (the token is kept, run it
again); 2 no --kv or --redis, or no revocation endpoint (nothing was sent);
1 the storage failed.`,
  options: [],
  async run(args, io) {
    if (args.positionals.length > 0) {
      throw usageError(
        `Cannot parse the arguments: alf logout takes no arguments, got ${args.positionals.length}`,
      );
    }
    const setting = (flag: string, variable: string) => configSetting(args, io, flag, variable);
    if (setting("kv", "ALF_KV") === undefined && setting("redis", "ALF_REDIS") === undefined) {
      throw usageError(
        "Cannot log out: without --kv or --redis (ALF_KV, ALF_REDIS) no token is kept between runs",
      );
    }
    if (setting("revocation-endpoint", "ALF_REVOCATION_ENDPOINT") === undefined) {
      throw usageError(
        "Cannot log out: no revocation endpoint; pass --revocation-endpoint or set ALF_REVOCATION_ENDPOINT",
      );
    }
    await using configured = await openClient(args, io);
    let revoked: "refresh_token" | "access_token" | undefined;
    try {
      revoked = await configured.client.revoke();
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      throw new CliError(`${oneLine(error)}; the stored token is kept`, EXIT_CODE.TOKEN, {
        cause: error,
      });
    }
    // A storage that failed read nothing, or kept what it should have deleted.
    if (configured.storageFailed) {
      throw new CliError(
        revoked === undefined
          ? "Cannot log out: the token storage failed; nothing was revoked"
          : `Cannot log out fully: the ${
            describe(revoked)
          } was revoked, but the token storage failed`,
        EXIT_CODE.FAILURE,
      );
    }
    await io.printError(
      revoked === undefined
        ? "alf: no stored token: nothing to revoke\n"
        : `alf: logged out: the ${describe(revoked)} was revoked and the stored token deleted\n`,
    );
    return EXIT_CODE.OK;
  },
};

function describe(revoked: "refresh_token" | "access_token"): string {
  return revoked === "refresh_token" ? "refresh token" : "access token";
}
