// Renders deploy/k8s (the base and every overlay) with `kubectl kustomize`
// and validates every object offline against the Kubernetes API schemas of
// the npm package kubernetes-models. Overlays need secret files that are
// never committed: the render runs on a temporary copy with throwaway ones.
// Writes each rendering to OUT/<name>.yaml for the consistency check.
//
//   node render_validate.mjs --k8s deploy/k8s --out DIR
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';

import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';

const groups = {
  v1: core, 'apps/v1': apps, 'batch/v1': batch, 'autoscaling/v2': autoscaling,
  'policy/v1': policy, 'rbac.authorization.k8s.io/v1': rbac,
  'networking.k8s.io/v1': networking,
};

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error(`usage: render_validate.mjs --k8s DIR --out DIR (missing ${name})`);
    process.exit(2);
  }
  return process.argv[i + 1];
}

export function kubectl(args) {
  try {
    return execFileSync('kubectl', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    if (e.code === 'ENOENT') {
      console.error('FAIL: kubectl is not installed; these checks need it ' +
                    '(`kubectl kustomize` renders the manifests offline).');
      process.exit(1);
    }
    throw new Error(`kubectl ${args.join(' ')} failed:\n${e.stderr || e.message}`);
  }
}

// What the issue asks of every workload, checked on the rendering (the
// schemas accept a manifest that simply leaves these out).
const JOB_SECRETS = ['jalon-services-token', 'jalon-admin-token'];
function checkPolicy(target, docs) {
  const find = (kind, name) => docs.find((o) => o.kind === kind && o.metadata.name === name);
  const workloads = docs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
  if (target !== 'base' && workloads.length === 0) fail(`${target}: no workloads`);
  for (const w of workloads) {
    const what = `${target}: ${w.kind}/${w.metadata.name}`;
    const pod = w.spec.template.spec;
    const psc = pod.securityContext || {};
    if (psc.runAsNonRoot !== true) fail(`${what}: runAsNonRoot is not true`);
    if (!Number.isInteger(psc.runAsUser) || psc.runAsUser === 0) fail(`${what}: no numeric non-root runAsUser`);
    if (psc.seccompProfile?.type !== 'RuntimeDefault') fail(`${what}: seccompProfile is not RuntimeDefault`);
    const sa = pod.serviceAccountName;
    if (!sa || !find('ServiceAccount', sa)) fail(`${what}: ServiceAccount ${sa} is not rendered`);
    // No API token is mounted by default; the bootstrap Job mounts one in
    // its kubectl containers only, never where a Jalon binary runs.
    if (pod.automountServiceAccountToken !== false) fail(`${what}: automountServiceAccountToken is not false`);
    if (w.metadata.name === 'jalon-bootstrap') {
      const inits = (pod.initContainers || []).map((c) => c.name);
      if (inits.indexOf('api-check') !== 0 || inits.indexOf('bootstrap') < 1) {
        fail(`${what}: the API is not checked (init container api-check) before the bootstrap commits an admin`);
      }
    }
    for (const c of [...(pod.initContainers || []), ...pod.containers]) {
      const cw = `${what}/${c.name}`;
      if (/jalon/.test(c.image) && (c.volumeMounts || []).some((m) => m.mountPath.startsWith('/var/run/secrets/kubernetes.io'))) {
        fail(`${cw}: a Jalon container holds a Kubernetes API token`);
      }
      const sc = c.securityContext || {};
      if (sc.allowPrivilegeEscalation !== false) fail(`${cw}: allowPrivilegeEscalation is not false`);
      if (sc.readOnlyRootFilesystem !== true) fail(`${cw}: readOnlyRootFilesystem is not true`);
      if (!(sc.capabilities?.drop || []).includes('ALL')) fail(`${cw}: capabilities do not drop ALL`);
      for (const k of ['requests', 'limits']) {
        if (!c.resources?.[k]?.cpu || !c.resources?.[k]?.memory) fail(`${cw}: no cpu and memory ${k}`);
      }
      if (target === 'prod' && /jalon/.test(c.image) && !c.image.includes('@sha256:')) fail(`${cw}: image ${c.image} is not by digest`);
      for (const e of c.envFrom || []) {
        if (e.configMapRef && !find('ConfigMap', e.configMapRef.name)) fail(`${cw}: ConfigMap ${e.configMapRef.name} is not rendered`);
      }
    }
    for (const v of pod.volumes || []) {
      if (v.configMap && !find('ConfigMap', v.configMap.name)) fail(`${what}: ConfigMap ${v.configMap.name} is not rendered`);
      if (v.secret && target !== 'base' && !find('Secret', v.secret.secretName) && !JOB_SECRETS.includes(v.secret.secretName)) {
        fail(`${what}: Secret ${v.secret.secretName} is neither rendered nor made by the bootstrap Job`);
      }
    }
    if (w.kind !== 'Deployment') continue;
    const labels = w.spec.selector.matchLabels;
    const selects = (sel) => sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
    if (w.spec.strategy?.type !== 'RollingUpdate' || w.spec.strategy.rollingUpdate?.maxUnavailable !== 0) {
      fail(`${what}: not a RollingUpdate with maxUnavailable 0`);
    }
    const c = pod.containers[0];
    if (!c.readinessProbe?.grpc || !c.livenessProbe?.grpc) fail(`${what}: no gRPC readiness and liveness probes`);
    if (!c.lifecycle?.preStop) fail(`${what}: no preStop pause`);
    if (!docs.some((o) => o.kind === 'PodDisruptionBudget' && selects(o.spec.selector.matchLabels))) fail(`${what}: no PodDisruptionBudget`);
    if (!docs.some((o) => o.kind === 'Service' && selects(o.spec.selector) && o.spec.ports.some((p) => p.name === 'grpc'))) {
      fail(`${what}: no Service with a port named grpc`);
    }
    const hpa = docs.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === w.metadata.name);
    if (target === 'dev' ? hpa : !hpa) fail(`${what}: ${target === 'dev' ? 'an' : 'no'} HorizontalPodAutoscaler`);
    if (hpa && hpa.spec.minReplicas < 2) fail(`${what}: HPA minReplicas < 2`);
    // At least 2 replicas, from the Deployment or, when it leaves the count
    // to its HPA, from the HPA's minimum.
    const floor = w.spec.replicas ?? (hpa ? hpa.spec.minReplicas : 1);
    if (target !== 'dev' && !(floor >= 2)) fail(`${what}: fewer than 2 replicas`);
    if (hpa && w.spec.replicas > hpa.spec.minReplicas) fail(`${what}: replicas above the HPA minimum`);
  }
}

const k8s = path.resolve(arg('--k8s'));
const out = path.resolve(arg('--out'));
fs.mkdirSync(out, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jalon-k8s-'));
fs.cpSync(k8s, path.join(tmp, 'k8s'), { recursive: true });

const targets = { base: path.join(tmp, 'k8s', 'base') };
for (const o of fs.readdirSync(path.join(k8s, 'overlays'))) {
  targets[o] = path.join(tmp, 'k8s', 'overlays', o);
}
let failures = 0;
const fail = (msg) => { console.error(`FAIL: ${msg}`); failures++; };

for (const [name, dir] of Object.entries(targets)) {
  // Throwaway files for every secretGenerator file of the target.
  const kust = yaml.load(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  for (const gen of kust.secretGenerator || []) {
    for (const f of gen.files || []) {
      const file = path.join(dir, f.includes('=') ? f.split('=')[1] : f);
      if (fs.existsSync(path.join(k8s, path.relative(path.join(tmp, 'k8s'), file)))) {
        fail(`${name}: ${f} exists in the source tree: secret files are never committed`);
      }
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `throwaway${Math.random().toString(36).slice(2)}\n`);
    }
  }
  let rendered;
  try {
    rendered = kubectl(['kustomize', dir]);
  } catch (e) {
    fail(`${name}: ${e.message}`);
    continue;
  }
  fs.writeFileSync(path.join(out, `${name}.yaml`), rendered);
  const docs = yaml.loadAll(rendered).filter(Boolean);
  if (docs.length === 0) fail(`${name}: renders nothing`);
  for (const doc of docs) {
    const what = `${name}: ${doc.kind}/${doc.metadata?.name}`;
    const Model = groups[doc.apiVersion]?.[doc.kind];
    if (!Model) {
      fail(`${what}: no schema for ${doc.apiVersion} ${doc.kind} (add it to render_validate.mjs)`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      fail(`${what}: ${e.message}`);
    }
    if (doc.kind !== 'Namespace' && doc.metadata?.namespace !== 'jalon') {
      fail(`${what}: namespace is ${doc.metadata?.namespace}, not jalon`);
    }
  }
  checkPolicy(name, docs);
  console.log(`${name}: ${docs.length} objects rendered, validated, checked`);
}
fs.rmSync(tmp, { recursive: true, force: true });
if (failures) {
  console.error(`${failures} failure(s)`);
  process.exit(1);
}
