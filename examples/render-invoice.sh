#!/usr/bin/env bash
# Deploys examples/invoice to Press Cloud with plain curl (the documented upload flow), renders it with
# examples/invoice/payload.json and saves the PDF. Needs PRESS_CLOUD_API and PRESS_CLOUD_TOKEN (printed by `npm start`).
#   bash examples/render-invoice.sh [out.pdf]
set -euo pipefail
: "${PRESS_CLOUD_API:?set PRESS_CLOUD_API, e.g. http://127.0.0.1:8787}"
: "${PRESS_CLOUD_TOKEN:?set PRESS_CLOUD_TOKEN to an API key (pcak_...)}"
OUT="${1:-invoice.pdf}"
DIR="$(cd "$(dirname "$0")/invoice" && pwd)"
AUTH="Authorization: Bearer $PRESS_CLOUD_TOKEN"
JSON="Content-Type: application/json"

# field <path> reads a JSON response from stdin and prints one field (node is there: Press Cloud runs on it)
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];process.stdout.write(typeof v==="object"?JSON.stringify(v):String(v))})' "$1"; }
mime() { case "$1" in *.html) echo "text/html; charset=utf-8";; *.css) echo "text/css; charset=utf-8";; *.js) echo "text/javascript; charset=utf-8";;
  *.json) echo "application/json";; *.woff2) echo "font/woff2";; *.txt) echo "text/plain; charset=utf-8";; *) echo "application/octet-stream";; esac; }

# 1. The manifest: every file with its sha256, size and mime.
cd "$DIR"
FILES=""
for f in $(find . -type f ! -name payload.json | sed 's|^\./||' | sort); do
  FILES="$FILES{\"path\":\"$f\",\"sha256\":\"$(sha256sum "$f" | cut -d' ' -f1)\",\"size\":$(wc -c < "$f" | tr -d ' '),\"mime\":\"$(mime "$f")\"},"
done
FILES="[${FILES%,}]"

# 2. An upload session for deploy "invoice" (created on first use, reused afterwards).
DEPLOY_ID=$(curl -sf "$PRESS_CLOUD_API/v1/deploys?limit=100" -H "$AUTH" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const d=JSON.parse(s).items.find(i=>i.slug==="invoice");process.stdout.write(d?d.id:"")})')
if [ -n "$DEPLOY_ID" ]; then TARGET="\"deployId\":\"$DEPLOY_ID\""; else TARGET='"createDeploy":{"slug":"invoice","name":"Invoice"}'; fi
SESSION=$(curl -sf -X POST "$PRESS_CLOUD_API/v1/upload-sessions" -H "$AUTH" -H "$JSON" -d "{$TARGET,\"files\":$FILES}")
SESSION_ID=$(echo "$SESSION" | field uploadSession.id)
TOKEN="X-Upload-Token: $(echo "$SESSION" | field uploadToken)"

# 3. Upload only the blobs the server lacks (nothing, when the files did not change).
MISSING=$(curl -sf -X POST "$PRESS_CLOUD_API/v1/upload-sessions/$SESSION_ID/missing-blobs" -H "$AUTH" -H "$TOKEN" | field missing)
for f in $(find . -type f ! -name payload.json | sed 's|^\./||'); do
  SHA=$(sha256sum "$f" | cut -d' ' -f1)
  if [[ "$MISSING" == *"$SHA"* ]]; then
    curl -sf -X PUT "$PRESS_CLOUD_API/v1/upload-sessions/$SESSION_ID/blobs/$SHA" -H "$AUTH" -H "$TOKEN" \
      -H "Content-Type: application/octet-stream" --data-binary "@$f" > /dev/null
    echo "uploaded $f"
  fi
done

# 4. Commit: an immutable version, with the preview alias pointing at it.
VERSION_ID=$(curl -sf -X POST "$PRESS_CLOUD_API/v1/upload-sessions/$SESSION_ID/commit" -H "$AUTH" -H "$TOKEN" -H "$JSON" \
  -d '{"aliases":["preview"]}' | field deployVersion.id)
DEPLOY_ID=$(echo "$SESSION" | field uploadSession.deployId)
echo "deploy $DEPLOY_ID version $VERSION_ID"

# 5. Render with the payload and wait (up to 60 s) for the job to end.
JOB=$(curl -sf -X POST "$PRESS_CLOUD_API/v1/render-jobs?wait=60" -H "$AUTH" -H "$JSON" \
  -d "{\"deployId\":\"$DEPLOY_ID\",\"deployVersionId\":\"preview\",\"businessKey\":\"INV-2026-0042\",\"payload\":$(cat payload.json)}")
JOB_ID=$(echo "$JOB" | field job.id)
STATUS=$(echo "$JOB" | field job.status)
if [ "$STATUS" != "succeeded" ]; then echo "render job $JOB_ID: $STATUS $(echo "$JOB" | field job.error)" >&2; exit 1; fi
echo "render job $JOB_ID succeeded: $(echo "$JOB" | field job.output.pageCount) pages"

# 6. Download the PDF.
cd - > /dev/null
curl -sf "$PRESS_CLOUD_API/v1/render-jobs/$JOB_ID/output" -H "$AUTH" -o "$OUT"
echo "saved $OUT"
