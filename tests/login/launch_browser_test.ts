import assert from "node:assert/strict";
import { launchCommand, openSystemBrowser } from "../../src/login/_launch_browser.ts";

const URL_WITH_PARAMS = "https://auth.example.com/authorize?response_type=code&state=a%22b";

Deno.test("launchCommand() uses xdg-open, open or start for each system", () => {
  assert.deepEqual(launchCommand("linux", URL_WITH_PARAMS), {
    command: "xdg-open",
    args: [URL_WITH_PARAMS],
  });
  assert.deepEqual(launchCommand("darwin", URL_WITH_PARAMS), {
    command: "open",
    args: [URL_WITH_PARAMS],
  });
  assert.deepEqual(launchCommand("windows", URL_WITH_PARAMS), {
    command: "cmd",
    args: ["/d", "/c", `start "" "${URL_WITH_PARAMS}"`],
    windowsRawArguments: true,
  });
});

Deno.test("openSystemBrowser() prints the address and runs the launcher with it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/xdg-open`;
    await Deno.writeTextFile(script, `#!/bin/sh\nprintf '%s' "$1" > "${dir}/opened"\n`);
    await Deno.chmod(script, 0o755);
    const lines: string[] = [];
    await openSystemBrowser(URL_WITH_PARAMS, {
      os: "linux",
      env: { PATH: `${dir}:/usr/bin:/bin` },
      print: (line) => lines.push(line),
    });
    assert.deepEqual(lines, [`To log in, open this address in a browser: ${URL_WITH_PARAMS}`]);
    assert.equal(await Deno.readTextFile(`${dir}/opened`), URL_WITH_PARAMS);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSystemBrowser() resolves when no launcher can run, after printing the address", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    await openSystemBrowser("http://127.0.0.1:1/authorize", {
      os: "linux",
      env: { PATH: dir },
      print: (line) => lines.push(line),
    });
    assert.equal(
      lines[0],
      "To log in, open this address in a browser: http://127.0.0.1:1/authorize",
    );
    assert.match(lines[1] ?? "", /^\(Cannot start xdg-open: /);

    const failing = `${dir}/xdg-open`;
    await Deno.writeTextFile(failing, "#!/bin/sh\nexit 3\n");
    await Deno.chmod(failing, 0o755);
    lines.length = 0;
    await openSystemBrowser("http://127.0.0.1:1/authorize", {
      os: "linux",
      env: { PATH: dir },
      print: (line) => lines.push(line),
    });
    assert.equal(lines[1], "(xdg-open exited with code 3)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
