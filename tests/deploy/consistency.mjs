// The manifests against the binaries: every flag, JALON_* variable, port,
// probe service name and mounted secret file that a rendered manifest gives
// a Jalon container must be one that binary accepts. The flags and variables
// come from the binary's own --help; the probe names from the binary itself
// (it runs with the container's configuration, against a Redis started from
// the manifests' redis.conf and ACL script, and its health service must
// answer SERVING for the names the probes ask). The bootstrap Job's script
// runs the same way. Renaming a flag, a variable or a health service breaks
// this test, not the cluster.
//
//   node consistency.mjs --rendered DIR --k8s deploy/k8s --redis-server PATH \
//     --binary DEPLOYMENT=PATH [--binary ...]
// DIR holds the renderings of render_validate.mjs (dev.yaml, prod.yaml).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import grpc from '@grpc/grpc-js';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  if (i < 0 || i + 1 >= argv.length) throw new Error(`missing ${name}`);
  return argv[i + 1];
};
const binaries = {};  // Deployment name -> binary path
argv.forEach((a, i) => {
  if (a === '--binary') {
    const [dep, bin] = argv[i + 1].split('=');
    binaries[dep] = bin;
  }
});
const renderedDir = opt('--rendered');
const k8s = opt('--k8s');
const redisServer = opt('--redis-server');
// Secrets created at run time by the bootstrap Job, with their keys.
const JOB_SECRETS = { 'jalon-services-token': ['token'], 'jalon-admin-token': ['token'] };

let failures = 0;
const fail = (msg) => { console.error(`FAIL: ${msg}`); failures++; };

// --- what the binary accepts, from its --help ------------------------------
function helpOf(bin) {
  const text = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  const flags = new Map();  // flag -> env
  for (const m of text.matchAll(/^ {2}--([a-z0-9-]+) \((JALON_[A-Z0-9_]+)\)/gm)) {
    flags.set(m[1], m[2]);
  }
  if (flags.size === 0) throw new Error(`${bin} --help lists no flags:\n${text}`);
  return { flags, envs: new Set(flags.values()) };
}

function durationMs(text) {
  const m = /^(\d+)(ms|s|m)$/.exec(text || '');
  if (!m) return null;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}

// --- the container's configuration, resolved from the rendering ----------
function resolveEnv(objects, podSpec, c, what) {
  const env = {};
  for (const from of c.envFrom || []) {
    const name = from.configMapRef?.name;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) { fail(`${what}: envFrom ConfigMap ${name} is not in the rendering`); continue; }
    Object.assign(env, cm.data);
  }
  for (const e of c.env || []) {
    env[e.name] = e.value ?? (e.valueFrom?.fieldRef ? `<${e.valueFrom.fieldRef.fieldPath}>` : '<ref>');
  }
  return env;
}

// Files the container sees: mount path + key -> { secret, key }.
function mountedFiles(objects, podSpec, c, what) {
  const files = new Map();
  for (const m of c.volumeMounts || []) {
    const v = (podSpec.volumes || []).find((x) => x.name === m.name);
    if (!v) { fail(`${what}: volumeMount ${m.name} has no volume`); continue; }
    if (!v.secret) continue;
    const sname = v.secret.secretName;
    const obj = objects.find((o) => o.kind === 'Secret' && o.metadata.name === sname);
    const keys = obj ? Object.keys(obj.data || {}) : JOB_SECRETS[sname];
    if (!keys) { fail(`${what}: Secret ${sname} is neither rendered nor made by the bootstrap Job`); continue; }
    if (m.readOnly !== true) fail(`${what}: secret mount ${m.mountPath} is not readOnly`);
    const items = v.secret.items || keys.map((k) => ({ key: k, path: k }));
    for (const it of items) {
      if (!keys.includes(it.key)) fail(`${what}: Secret ${sname} has no key ${it.key}`);
      files.set(path.posix.join(m.mountPath, it.path), { secret: sname, key: it.key });
    }
  }
  return files;
}

const portOf = (hostport) => Number(String(hostport).split(':').pop());

function checkContainer(objects, overlay, dep, podSpec, c, help) {
  const what = `${overlay}: ${dep}/${c.name}`;
  const env = resolveEnv(objects, podSpec, c, what);
  const files = mountedFiles(objects, podSpec, c, what);
  for (const name of Object.keys(env)) {
    if (!help.envs.has(name)) fail(`${what}: ${name} is not a variable of the binary (see --help)`);
  }
  for (const a of [...(c.command || []).slice(1), ...(c.args || [])]) {
    const m = /^--([a-z0-9-]+)/.exec(a);
    if (m && !help.flags.has(m[1])) fail(`${what}: --${m[1]} is not a flag of the binary`);
  }
  for (const [name, value] of Object.entries(env)) {
    if (name.endsWith('_FILE') && !files.has(value)) {
      fail(`${what}: ${name}=${value} is not a file mounted from a Secret`);
    }
  }
  // And every mounted secret file is one the binary is told to read.
  const read = new Set(Object.entries(env).filter(([k]) => k.endsWith('_FILE')).map(([, v]) => v));
  for (const f of files.keys()) {
    if (!read.has(f)) fail(`${what}: mounts ${f} but no *_FILE variable names it`);
  }
  const ports = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
  const listen = portOf(env.JALON_LISTEN);
  if (ports.get('grpc') !== listen) fail(`${what}: port grpc ${ports.get('grpc')} != JALON_LISTEN ${env.JALON_LISTEN}`);
  if (ports.has('http') || env.JALON_HTTP_LISTEN) {
    if (ports.get('http') !== portOf(env.JALON_HTTP_LISTEN)) fail(`${what}: port http != JALON_HTTP_LISTEN`);
  }
  for (const kind of ['readinessProbe', 'livenessProbe']) {
    const g = c[kind]?.grpc;
    if (!g) { fail(`${what}: ${kind} is not a gRPC probe`); continue; }
    if (g.port !== listen) fail(`${what}: ${kind} port ${g.port} != JALON_LISTEN ${listen}`);
  }
  if (!c.readinessProbe?.grpc?.service) fail(`${what}: readiness probe names no service`);
  // The drain must end before the kubelet's SIGKILL.
  const grace = durationMs(env.JALON_GRACE_PERIOD ?? '10000ms');
  const pre = c.lifecycle?.preStop?.exec?.command;
  const preMs = pre?.[0] === '/bin/sleep' ? Number(pre[1]) * 1000 : (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
  if (!(podSpec.terminationGracePeriodSeconds * 1000 > grace + preMs)) {
    fail(`${what}: terminationGracePeriodSeconds ${podSpec.terminationGracePeriodSeconds}s <= preStop ${preMs}ms + grace ${grace}ms`);
  }
  // Every Service port that selects these pods names one of their ports.
  for (const s of objects.filter((o) => o.kind === 'Service' && o.spec.selector?.['app.kubernetes.io/name'] === dep)) {
    for (const p of s.spec.ports) {
      if (!ports.has(p.targetPort)) fail(`${what}: Service ${s.metadata.name} targets port ${p.targetPort}, not a container port`);
    }
  }
  return { env, files };
}

// --- running them ---------------------------------------------------------
const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});

function start(cmd, args, env, log, needle, timeoutMs = 20000) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', fs.openSync(log, 'w')] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd}: no "${needle}" within ${timeoutMs} ms; see ${log}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes(needle)) { clearTimeout(timer); resolve(child); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited with ${code}; see ${log}:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`)); });
  });
}

function stop(child, timeoutMs) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout'); }, timeoutMs);
    child.on('exit', (code, sig) => { clearTimeout(timer); resolve(code ?? sig); });
    child.kill('SIGTERM');
  });
}

// grpc.health.v1.Health/Check by hand: HealthCheckRequest{service = 1},
// HealthCheckResponse{status = 1}, SERVING = 1.
function healthCheck(port, service) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const name = Buffer.from(service, 'utf8');
  const req = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, req,
      { deadline: Date.now() + 5000 }, (err, resp) => {
        client.close();
        if (err) return resolve(`error ${err.code} ${err.details}`);
        resolve(resp.length >= 2 && resp[0] === 0x08 && resp[1] === 1 ? 'SERVING' : `status bytes ${resp.toString('hex')}`);
      });
  });
}

async function waitServing(port, service, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await healthCheck(port, service);
    if (last === 'SERVING') return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

async function main() {
  const overlays = fs.readdirSync(renderedDir).filter((f) => f !== 'base.yaml' && f.endsWith('.yaml'));
  if (overlays.length === 0) throw new Error(`no renderings in ${renderedDir}`);
  const help = {};
  for (const [dep, bin] of Object.entries(binaries)) help[dep] = helpOf(bin);
  let configs = {};  // from the last overlay (prod sorts last): what we run
  for (const file of overlays.sort()) {
    const overlay = file.replace(/\.yaml$/, '');
    const objects = yaml.loadAll(fs.readFileSync(path.join(renderedDir, file), 'utf8')).filter(Boolean);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    for (const d of deployments) {
      const dep = d.metadata.name;
      if (!binaries[dep]) {
        console.log(`${overlay}: ${dep} NOT CHECKED: no binary given (add --binary ${dep}=PATH in tests/deploy/CMakeLists.txt)`);
        continue;
      }
      const c = d.spec.template.spec.containers[0];
      if (path.basename(c.command?.[0] || '') !== path.basename(binaries[dep])) {
        fail(`${overlay}: ${dep} runs ${c.command?.[0]}, not ${path.basename(binaries[dep])}`);
      }
      configs[dep] = { ...checkContainer(objects, overlay, dep, d.spec.template.spec, c, help[dep]), container: c, overlay };
    }
    for (const dep of Object.keys(binaries)) {
      if (!deployments.some((d) => d.metadata.name === dep)) fail(`${overlay}: no Deployment ${dep}`);
    }
    // The bootstrap Job's script: its jalon-roadmap flags and variables.
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name === 'jalon-bootstrap');
    if (!job) { fail(`${overlay}: no bootstrap Job`); continue; }
    const init = job.spec.template.spec.initContainers.find((c) => c.name === 'bootstrap');
    if (!init) { fail(`${overlay}: the bootstrap Job has no init container named bootstrap`); continue; }
    const script = fs.readFileSync(path.join(k8s, 'base/bootstrap/bootstrap.sh'), 'utf8');
    for (const m of script.matchAll(/--([a-z][a-z0-9-]+)=/g)) {
      if (!help['jalon-roadmap']?.flags.has(m[1])) fail(`bootstrap.sh: --${m[1]} is not a flag of jalon-roadmap`);
    }
    const jobEnv = resolveEnv(objects, job.spec.template.spec, init, `${overlay}: bootstrap`);
    const jobFiles = mountedFiles(objects, job.spec.template.spec, init, `${overlay}: bootstrap`);
    for (const [name, value] of Object.entries(jobEnv)) {
      if (name.endsWith('_FILE') && !jobFiles.has(value)) fail(`${overlay}: bootstrap: ${name}=${value} is not mounted`);
    }
    configs['jalon-bootstrap'] = { env: jobEnv, files: jobFiles };
  }

  // Run: Redis from the manifests' config and ACL script, then the Job's
  // script, then each binary with its container's configuration.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jalon-consistency-'));
  const children = [];
  try {
    const redisPort = await freePort();
    fs.mkdirSync(path.join(tmp, 'secrets'));
    fs.mkdirSync(path.join(tmp, 'data'));
    // start.sh refuses a password under 16 characters (an empty secret file
    // would be an empty password): first that, then the real start.
    const startEnv = { PATH: process.env.PATH, JALON_REDIS_SECRETS_DIR: `${tmp}/secrets`,
      JALON_REDIS_ACL_FILE: `${tmp}/users.acl`, JALON_REDIS_CONF: `${tmp}/redis.conf` };
    fs.writeFileSync(path.join(tmp, 'secrets', 'password'), '\n');
    fs.writeFileSync(path.join(tmp, 'secrets', 'admin-password'), 'consistency-admin-password\n');
    try {
      execFileSync('/bin/sh', [path.join(k8s, 'base/redis/start.sh')], { env: startEnv, stdio: 'pipe', timeout: 10000 });
      fail('start.sh started Redis with an empty password');
    } catch (e) {
      if (!/at least 16 characters/.test(String(e.stderr))) fail(`start.sh with an empty password: ${e.stderr || e.message}`);
    }
    if (fs.existsSync(`${tmp}/users.acl`)) fail('start.sh wrote an ACL file with an empty password');
    const secretValues = { password: 'consistency-app-password', 'admin-password': 'consistency-admin-password' };
    for (const [k, v] of Object.entries(secretValues)) fs.writeFileSync(path.join(tmp, 'secrets', k), `${v}\n`);
    const conf = fs.readFileSync(path.join(k8s, 'base/redis/redis.conf'), 'utf8')
      .replace(/^port 6379$/m, `port ${redisPort}`)
      .replace(/^bind .*$/m, 'bind 127.0.0.1')
      .replace(/^dir \/data$/m, `dir ${tmp}/data`)
      .replace(/^aclfile .*$/m, `aclfile ${tmp}/users.acl`);
    fs.writeFileSync(path.join(tmp, 'redis.conf'), conf);
    const binDir = fs.mkdtempSync(path.join(tmp, 'bin-'));
    fs.symlinkSync(redisServer, path.join(binDir, 'redis-server'));
    for (const bin of Object.values(binaries)) fs.symlinkSync(path.resolve(bin), path.join(binDir, path.basename(bin)));
    const PATH = `${binDir}:${process.env.PATH}`;
    const redis = spawn('/bin/sh', [path.join(k8s, 'base/redis/start.sh')], {
      env: { PATH, JALON_REDIS_SECRETS_DIR: `${tmp}/secrets`, JALON_REDIS_ACL_FILE: `${tmp}/users.acl`, JALON_REDIS_CONF: `${tmp}/redis.conf` },
      stdio: ['ignore', fs.openSync(`${tmp}/redis.log`, 'w'), fs.openSync(`${tmp}/redis.err`, 'w')] });
    children.push(redis);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 50 && !fs.readFileSync(`${tmp}/redis.log`, 'utf8').includes('Ready to accept'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }

    // Files a container reads: secret values, the services token.
    const fileValue = (f) => {
      if (f.secret.startsWith('jalon-redis')) return secretValues[f.key];
      if (f.secret === 'jalon-services-token') return servicesToken;
      throw new Error(`no test value for Secret ${f.secret}`);
    };
    const runEnv = (cfg, name) => {
      const env = { PATH };
      for (const [k, v] of Object.entries(cfg.env)) env[k] = v;
      env.JALON_REDIS_URL = cfg.env.JALON_REDIS_URL.replace(/\/\/[^/]+\//, `//127.0.0.1:${redisPort}/`);
      for (const [k, v] of Object.entries(cfg.env)) {
        if (k.endsWith('_FILE') && cfg.files.has(v)) {  // else reported above
          const local = path.join(tmp, `${name}-${k}`);
          fs.writeFileSync(local, `${fileValue(cfg.files.get(v))}\n`);
          env[k] = local;
        }
      }
      return env;
    };

    let servicesToken = null;
    const jobOut = path.join(tmp, 'bootstrap-out');
    const jobEnv = { ...runEnv(configs['jalon-bootstrap'], 'bootstrap'), POD_NAMESPACE: 'jalon',
      JALON_BOOTSTRAP_OUT: jobOut, JALON_BOOTSTRAP_CURRENT: path.join(tmp, 'none') };
    execFileSync('/bin/sh', [path.join(k8s, 'base/bootstrap/bootstrap.sh')], { env: jobEnv, stdio: 'inherit', timeout: 60000 });
    for (const s of ['jalon-services-token', 'jalon-admin-token']) {
      const doc = yaml.load(fs.readFileSync(path.join(jobOut, `${s}.yaml`), 'utf8'));
      const token = Buffer.from(doc.data.token, 'base64').toString();
      if (doc.kind !== 'Secret' || doc.metadata.name !== s || token.length < 16) fail(`bootstrap: bad ${s}.yaml`);
      if (s === 'jalon-services-token') servicesToken = token;
    }

    // roadmap first: the others call it.
    const order = Object.keys(binaries).sort((a, b) => (a === 'jalon-roadmap' ? -1 : b === 'jalon-roadmap' ? 1 : 0));
    const listening = {};
    for (const dep of order) {
      const cfg = configs[dep];
      const env = runEnv(cfg, dep);
      const port = await freePort();
      env.JALON_LISTEN = `127.0.0.1:${port}`;
      if (env.JALON_HTTP_LISTEN) env.JALON_HTTP_LISTEN = `127.0.0.1:${await freePort()}`;
      if (env.JALON_ROADMAP_ADDRESS) env.JALON_ROADMAP_ADDRESS = `127.0.0.1:${listening['jalon-roadmap']}`;
      for (const [k, v] of Object.entries(env)) {
        if (/^<.*>$/.test(v)) env[k] = `${dep}-consistency`;  // downward API
      }
      let child;
      try {
        child = await start(binaries[dep], [], env, path.join(tmp, `${dep}.log`), 'listening on port');
      } catch (e) {
        fail(`${dep} does not start with its ${cfg.overlay} configuration: ${e.message}`);
        continue;
      }
      children.push(child);
      listening[dep] = port;
      const c = cfg.container;
      for (const kind of ['readinessProbe', 'livenessProbe']) {
        const service = c[kind].grpc.service ?? '';
        const got = await waitServing(port, service);
        if (got !== 'SERVING') fail(`${dep}: ${kind} asks health service "${service}": ${got}`);
        else console.log(`${dep}: ${kind} "${service}" SERVING`);
      }
    }
    for (const child of children.slice(1).reverse()) {
      const code = await stop(child, 15000);
      if (code !== 0) fail(`${child.spawnargs[0]}: exit ${code} after SIGTERM, expected 0`);
    }
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (failures === 0) fs.rmSync(tmp, { recursive: true, force: true });
    else console.error(`logs kept in ${tmp}`);
  }
  if (failures) {
    console.error(`${failures} failure(s)`);
    process.exit(1);
  }
  console.log('manifests and binaries agree');
}

main().catch((e) => { console.error(`FAIL: ${e.stack || e}`); process.exit(1); });
