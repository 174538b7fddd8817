// An EventFlow webhook receiver that verifies each delivery's signature.
//
// Standard Webhooks scheme: the signature is HMAC-SHA256, keyed with the
// base64-decoded part of the endpoint's `whsec_…` secret, over
// "{webhook-id}.{webhook-timestamp}.{raw body}", sent base64-encoded in
// `webhook-signature` as "v1,<sig>" (several, space-separated, during a
// secret rotation). Node standard library only.
//
//   WEBHOOK_SECRET=whsec_… PORT=4000 node receiver.js
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");

const TOLERANCE_SECONDS = 5 * 60;

function verify(secret, headers, body) {
  const id = headers["webhook-id"] || "";
  const timestamp = headers["webhook-timestamp"] || "";
  const signatures = headers["webhook-signature"] || "";
  if (!id || !/^\d+$/.test(timestamp)) return false;
  // Refuse old (replayed) or future deliveries.
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = crypto
    .createHmac("sha256", key)
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest();
  return signatures
    .split(" ")
    .filter((entry) => entry.startsWith("v1,"))
    .map((entry) => Buffer.from(entry.slice(3), "base64"))
    .some((candidate) => candidate.length === expected.length && crypto.timingSafeEqual(candidate, expected));
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    // Verify the raw bytes: re-serialised JSON would not match.
    const body = Buffer.concat(chunks);
    if (!verify(process.env.WEBHOOK_SECRET, request.headers, body)) {
      console.log("refused: bad signature");
      response.writeHead(401).end();
      return;
    }
    const event = JSON.parse(body);
    // Deliveries are at least once: deduplicate on webhook-id if it matters.
    console.log(`verified ${request.headers["webhook-id"]} ${event.type} ${JSON.stringify(event.data)}`);
    response.writeHead(204).end();
  });
});

const port = Number(process.env.PORT || 4000);
server.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}/`));
