#!/bin/sh
# Bootstrap Job, step 1 (in the jalon image): jalon-roadmap creates the first
# admin token if none exists, and checks or (re)issues the services token,
# before it starts listening (on a port of its own choosing, nobody calls
# it); once it listens, it is stopped. Step 2 (kubectl)
# applies the Secret manifests this writes to $out.
set -eu
# The paths can be moved for tests/deploy, which runs this script locally.
out=${JALON_BOOTSTRAP_OUT:-/run/jalon-bootstrap}
current=${JALON_BOOTSTRAP_CURRENT:-/var/run/secrets/jalon/services-token/token}
mkdir -p "$out/work"
# Keep the current services token if Redis still knows it.
if [ -s "$current" ]; then
  cp "$current" "$out/work/services.token"
fi
jalon-roadmap --listen=127.0.0.1:0 \
  --bootstrap-admin-token-file="$out/work/admin.token" \
  --service-token-file="$out/work/services.token" >"$out/work/stdout" &
pid=$!
tries=0
until grep -q "listening on port" "$out/work/stdout"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || true
    echo "bootstrap: jalon-roadmap exited before listening (see above)" >&2
    exit 1
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge 1200 ]; then
    echo "bootstrap: jalon-roadmap did not start within 10 minutes" >&2
    kill -TERM "$pid"
    exit 1
  fi
  sleep 0.5
done
kill -TERM "$pid"
wait "$pid"

secret() {  # name file
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app.kubernetes.io/part-of: jalon\ntype: Opaque\ndata:\n  token: %s\n' \
    "$1" "$POD_NAMESPACE" "$(tr -d '\n' <"$2" | base64 -w0)" >"$out/$1.yaml"
}
secret jalon-services-token "$out/work/services.token"
if [ -s "$out/work/admin.token" ]; then
  secret jalon-admin-token "$out/work/admin.token"
  echo "bootstrap: first admin token created; the store step saves it in Secret jalon-admin-token"
else
  echo "bootstrap: an admin token exists already; Secret jalon-admin-token left as it is"
fi
rm -rf "$out/work"
