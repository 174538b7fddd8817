// Opens the query API's /docs page in headless Chromium (Debian's package,
// driven by playwright-core), waits until Swagger UI has rendered the
// operations from /openapi.json, saves a screenshot, and prints what a
// person would see as JSON: the page title and the listed operations.
//   node check-docs-page.mjs <docs url> <screenshot.png>
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node check-docs-page.mjs <docs url> <screenshot.png>");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  const failed = [];
  page.on("requestfailed", (request) => failed.push(request.url()));
  await page.goto(url, { waitUntil: "networkidle", timeout: 30_000 });
  await page.waitForSelector(".opblock", { timeout: 30_000 });
  const operations = await page.$$eval(".opblock-summary", (blocks) =>
    blocks.map((block) => {
      const method = block.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "";
      const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path")
        ?? block.querySelector(".opblock-summary-path")?.textContent?.trim() ?? "";
      return `${method} ${path}`;
    }));
  const title = (await page.textContent(".info .title"))?.trim() ?? "";
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ title, operations, failed_requests: failed }));
} finally {
  await browser.close();
}
