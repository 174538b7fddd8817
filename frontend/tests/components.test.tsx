import { describe, expect, it, afterEach } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { Chart, linePath } from "@/components/Chart";
import { JsonView } from "@/components/JsonView";
import { StatusBadge } from "@/components/StatusBadge";
import { Field } from "@/components/Field";
import { LocalTime } from "@/components/LocalTime";
import { act } from "react";
import { hydrateRoot } from "react-dom/client";
import { renderToString } from "react-dom/server";

afterEach(cleanup);

const times = ["2026-12-07T10:00:00Z", "2026-12-07T10:01:00Z", "2026-12-07T10:02:00Z"];

describe("Chart", () => {
  it("draws one bar per non-zero bucket and names the chart for screen readers", () => {
    const { container } = render(<Chart title="Events per minute" kind="bars" times={times} series={[{ name: "events", values: [3, 0, 6], className: "s1" }]} summary="9 events." />);
    expect(container.querySelectorAll("rect")).toHaveLength(2);
    expect(screen.getByRole("img").getAttribute("aria-label")).toBe("Events per minute. 9 events.");
    expect(container.textContent).toContain("10:00 UTC");
  });
  it("says when a window has no data", () => {
    render(<Chart title="Latency" times={times} series={[{ name: "p50", values: [null, null, null], className: "s1" }]} summary="none" />);
    expect(screen.getByText("No data in this window")).toBeTruthy();
  });
  it("draws a dot for a value with no neighbour, so one busy minute still shows", () => {
    const { container } = render(<Chart title="Success" times={times} max={1} series={[{ name: "ok", values: [null, 1, null], className: "s2" }]} summary="one" />);
    expect(container.querySelectorAll("circle")).toHaveLength(1);
  });
  it("breaks a line where a bucket has no value", () => {
    expect(linePath([1, null, 1], 2).match(/M/g)).toHaveLength(2);
    expect(linePath([0, 1, 2], 2)).toMatch(/^M44\.0,138\.0L/);
  });
});

describe("JsonView", () => {
  it("shows nested payloads as collapsible sections with keys and values", () => {
    const { container } = render(<JsonView value={{ order: { id: 42, items: [{ sku: "A-1" }] }, paid: true, note: null }} />);
    expect(container.querySelectorAll("details").length).toBe(4);
    expect(container.textContent).toContain('"sku": "A-1"');
    expect(container.textContent).toContain('"paid": true');
    expect(container.textContent).toContain("3 keys");
  });
});

describe("StatusBadge", () => {
  it("tells pending from retrying in words, not colour alone", () => {
    render(<><StatusBadge status="pending" attempts={0} /><StatusBadge status="pending" attempts={2} /><StatusBadge status="failed" /></>);
    expect(screen.getByText("Pending")).toBeTruthy();
    expect(screen.getByText("Retrying")).toBeTruthy();
    expect(screen.getByText("Failed").className).toContain("badge-failed");
  });
});

describe("Field", () => {
  it("ties the label, hint and error to the input", () => {
    render(<Field name="url" label="URL" hint="Where to POST" error="must use http or https">{(p) => <input {...p} />}</Field>);
    const input = screen.getByLabelText("URL");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")).toBe("fld-url-hint fld-url-error");
    expect(document.getElementById("fld-url-error")?.textContent).toBe("must use http or https");
  });
});

describe("LocalTime", () => {
  it("shows the viewer's zone with UTC on hover", () => {
    render(<LocalTime iso="2026-12-07T09:03:04Z" />);
    const time = document.querySelector("time")!;
    expect(time.getAttribute("title")).toBe("2026-12-07 09:03:04 UTC");
    expect(time.getAttribute("datetime")).toBe("2026-12-07T09:03:04Z");
    expect(time.textContent).toMatch(/^2026-12-07 \d\d:03:04 /);
  });
});

describe("LocalTime hydration", () => {
  it("hydrates HTML rendered in the server's zone in a browser in another zone, then shows the viewer's zone", async () => {
    const zone = process.env.TZ;
    try {
      process.env.TZ = "UTC";
      const html = renderToString(<LocalTime iso="2026-12-07T09:03:04Z" />);
      process.env.TZ = "America/New_York";
      const container = document.createElement("div");
      container.innerHTML = html;
      document.body.appendChild(container);
      const errors: unknown[] = [];
      (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
      await act(async () => {
        hydrateRoot(container, <LocalTime iso="2026-12-07T09:03:04Z" />, { onRecoverableError: (e) => errors.push(e) });
      });
      expect(errors).toEqual([]);
      expect(container.querySelector("time")!.textContent).toBe("2026-12-07 04:03:04 EST");
      container.remove();
    } finally {
      process.env.TZ = zone;
    }
  });
});
