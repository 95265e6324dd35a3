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

# api METHOD PATH [curl args…] prints the response body; on an error it prints the server's {error, message}
# (or that the server cannot be reached) and stops the script.
api() {
  local method=$1 path=$2; shift 2
  local body status
  if ! body=$(curl -sS -X "$method" "$PRESS_CLOUD_API$path" -H "$AUTH" -w '\n%{http_code}' "$@" 2>&1); then
    echo "render-invoice.sh: cannot reach $PRESS_CLOUD_API ($(echo "$body" | grep -m1 '^curl:')); is the server running (npm start)?" >&2
    exit 1
  fi
  status=$(echo "$body" | tail -1)
  body=$(echo "$body" | sed '$d')
  if [ "$status" -ge 400 ]; then
    echo "render-invoice.sh: $method $path answered $status: $(echo "$body" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const e=JSON.parse(s);process.stdout.write(`${e.error}: ${e.message}`)}catch{process.stdout.write(s.slice(0,200))}})')" >&2
    exit 1
  fi
  printf '%s' "$body"
}

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
DEPLOYS=$(api GET "/v1/deploys?limit=100")
DEPLOY_ID=$(echo "$DEPLOYS" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const d=JSON.parse(s).items.find(i=>i.slug==="invoice");process.stdout.write(d?d.id:"")})')
if [ -n "$DEPLOY_ID" ]; then TARGET="\"deployId\":\"$DEPLOY_ID\""; else TARGET='"createDeploy":{"slug":"invoice","name":"Invoice"}'; fi
SESSION=$(api POST /v1/upload-sessions -H "$JSON" -d "{$TARGET,\"files\":$FILES}")
SESSION_ID=$(echo "$SESSION" | field uploadSession.id)
TOKEN="X-Upload-Token: $(echo "$SESSION" | field uploadToken)"

# 3. Upload only the blobs the server lacks (nothing, when the files did not change).
MISSING=$(api POST "/v1/upload-sessions/$SESSION_ID/missing-blobs" -H "$TOKEN")
MISSING=$(echo "$MISSING" | field missing)
for f in $(find . -type f ! -name payload.json | sed 's|^\./||'); do
  SHA=$(sha256sum "$f" | cut -d' ' -f1)
  if [[ "$MISSING" == *"$SHA"* ]]; then
    api PUT "/v1/upload-sessions/$SESSION_ID/blobs/$SHA" -H "$TOKEN" \
      -H "Content-Type: application/octet-stream" --data-binary "@$f" > /dev/null
    echo "uploaded $f"
  fi
done

# 4. Commit: an immutable version, with the preview alias pointing at it.
COMMITTED=$(api POST "/v1/upload-sessions/$SESSION_ID/commit" -H "$TOKEN" -H "$JSON" -d '{"aliases":["preview"]}')
VERSION_ID=$(echo "$COMMITTED" | field deployVersion.id)
DEPLOY_ID=$(echo "$SESSION" | field uploadSession.deployId)
echo "deploy $DEPLOY_ID version $VERSION_ID"

# 5. Render with the payload and wait (up to 60 s) for the job to end.
JOB=$(api POST "/v1/render-jobs?wait=60" -H "$JSON" \
  -d "{\"deployId\":\"$DEPLOY_ID\",\"deployVersionId\":\"preview\",\"businessKey\":\"INV-2026-0042\",\"payload\":$(cat payload.json)}")
JOB_ID=$(echo "$JOB" | field job.id)
STATUS=$(echo "$JOB" | field job.status)
if [ "$STATUS" != "succeeded" ]; then echo "render job $JOB_ID: $STATUS $(echo "$JOB" | field job.error)" >&2; exit 1; fi
echo "render job $JOB_ID succeeded: $(echo "$JOB" | field job.output.pageCount) pages"

# 6. Download the PDF.
cd - > /dev/null
# (binary: curl writes the file itself; on an error the file holds the server's JSON answer)
if ! STATUS=$(curl -sS "$PRESS_CLOUD_API/v1/render-jobs/$JOB_ID/output" -H "$AUTH" -o "$OUT" -w '%{http_code}'); then
  echo "render-invoice.sh: cannot reach $PRESS_CLOUD_API; is the server running (npm start)?" >&2
  exit 1
fi
if [ "$STATUS" -ge 400 ]; then
  echo "render-invoice.sh: GET /v1/render-jobs/$JOB_ID/output answered $STATUS: $(cat "$OUT")" >&2
  rm -f "$OUT"
  exit 1
fi
echo "saved $OUT"
