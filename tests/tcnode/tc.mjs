// testcontainers for node against lodger's Engine API socket (issue 15),
// run by TestAPITestcontainersNode as the test user with DOCKER_HOST set
// and LODGER_TEST_REGISTRY naming the test registry. Exits non-zero on
// the first assertion that fails. Its last container is left running on
// purpose: the reaper (Ryuk) must remove it once this process is gone;
// the Go test checks that it did.
import { GenericContainer, Network, Wait } from "testcontainers";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

const reg = process.env.LODGER_TEST_REGISTRY;
assert.ok(reg, "LODGER_TEST_REGISTRY is not set");
const bb = `${reg}/lodger-test/busybox:latest`;
const get = (url) =>
  new Promise((res, rej) =>
    http.get(url, (r) => {
      let b = "";
      r.on("data", (c) => (b += c));
      r.on("end", () => res(b));
    }).on("error", rej),
  );
const step = (s) => console.log("step:", s);

step("a container with log and port waits");
const web = await new GenericContainer(bb)
  .withCommand(["sh", "-c", "mkdir -p /www && echo hello-node > /www/index.html && echo server ready && exec httpd -f -p 8080 -h /www"])
  .withExposedPorts(8080)
  .withLabels({ suite: "tcnode" })
  .withWaitStrategy(Wait.forAll([Wait.forLogMessage("server ready"), Wait.forListeningPorts()]))
  .start();
assert.equal(await get(`http://${web.getHost()}:${web.getMappedPort(8080)}/`), "hello-node\n");

step("exec: exit code, stdout and stderr apart");
const ex = await web.exec(["sh", "-c", "echo out; echo err >&2; exit 5"]);
assert.equal(ex.exitCode, 5);
assert.equal(ex.stdout.trim(), "out");
assert.equal(ex.stderr.trim(), "err");

step("copy content and files in, an archive out");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tcnode-"));
fs.writeFileSync(path.join(dir, "Dockerfile"),
  `FROM ${bb}\nARG GREETING=hi\nRUN echo "$GREETING from the Dockerfile" > /greeting\nCMD ["sh", "-c", "cat /greeting; exec sleep 300"]\n`);
await web.copyContentToContainer([{ content: "copied-node\n", target: "/tmp/c.txt" }]);
await web.copyFilesToContainer([{ source: path.join(dir, "Dockerfile"), target: "/tmp/Dockerfile" }]);
assert.equal((await web.exec(["cat", "/tmp/c.txt"])).output, "copied-node\n");
assert.match((await web.exec(["cat", "/tmp/Dockerfile"])).output, /GREETING/);
let n = 0;
for await (const c of await web.copyArchiveFromContainer("/tmp/c.txt")) n += c.length;
assert.ok(n >= 1024, `an archive of ${n} bytes: want a tar of the file`);

step("logs");
const logs = await web.logs();
let lb = "";
await new Promise((res) => {
  logs.on("data", (d) => (lb += d));
  logs.on("end", res);
  setTimeout(res, 2000);
});
assert.match(lb, /server ready/);

step("a network with aliases");
const net = await new Network().start();
const srv = await new GenericContainer(bb)
  .withNetwork(net)
  .withNetworkAliases("backend", "api")
  .withCommand(["sh", "-c", "mkdir -p /www && echo from-backend > /www/index.html && exec httpd -f -p 80 -h /www"])
  .withExposedPorts(80)
  .withWaitStrategy(Wait.forListeningPorts())
  .start();
const cli = await new GenericContainer(bb).withNetwork(net).withCommand(["sleep", "300"]).start();
for (const name of ["backend", "api"]) {
  assert.equal((await cli.exec(["wget", "-qO-", `http://${name}/`])).output, "from-backend\n", `wget by the alias ${name}`);
}
assert.match(srv.getIpAddress(net.getName()), /^\d+\.\d+\.\d+\.\d+$/);

step("GenericContainer.fromDockerfile");
const img = await GenericContainer.fromDockerfile(dir).withBuildArgs({ GREETING: "hello" }).build("tcnode-built:1", { deleteOnExit: false });
const built = await img.withWaitStrategy(Wait.forLogMessage("hello from the Dockerfile")).start();
assert.equal((await built.exec(["cat", "/greeting"])).output, "hello from the Dockerfile\n");

step("restart keeps the published port serving");
await web.restart();
assert.equal(await get(`http://${web.getHost()}:${web.getMappedPort(8080)}/`), "hello-node\n");

step("stop and remove");
for (const c of [built, cli, srv, web]) await c.stop();
await net.stop();

step("one left behind for the reaper");
const left = await new GenericContainer(bb).withLabels({ suite: "tcnode-left-behind" }).withCommand(["sleep", "300"]).start();
console.log("left behind:", left.getId());
console.log("ALL OK");
