// A local webhook receiver whose answer the tests switch between success and failure.
import { createServer } from "node:http";

export async function startReceiver() {
  const state = { status: 200, requests: [] };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      state.requests.push({ headers: req.headers, body, at: Date.now() });
      res.writeHead(state.status, { "content-type": "text/plain" });
      res.end(state.status < 300 ? "ok thanks" : "receiver is down for maintenance");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${server.address().port}/hooks`;
  state.close = () => server.close();
  return state;
}
