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
  console.log(`${name}: ${docs.length} objects rendered and valid`);
}
fs.rmSync(tmp, { recursive: true, force: true });
if (failures) {
  console.error(`${failures} failure(s)`);
  process.exit(1);
}
