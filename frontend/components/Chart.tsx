import { formatUtc } from "@/lib/format";

export interface Series {
  name: string;
  values: (number | null)[];
  /** A CSS class setting the stroke/fill colour. */
  className: string;
}

const W = 600;
const H = 160;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** Polyline path through the non-null values; a null breaks the line. */
export function linePath(values: (number | null)[], max: number, min = 0): string {
  const n = values.length;
  const x = (i: number) => PAD.left + (n <= 1 ? 0 : (i * (W - PAD.left - PAD.right)) / (n - 1));
  const y = (v: number) => PAD.top + (1 - (v - min) / (max - min || 1)) * (H - PAD.top - PAD.bottom);
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** Indexes of values with no neighbour to draw a line to: they get a dot. */
export function isolated(values: (number | null)[]): number[] {
  const has = (i: number) => i >= 0 && i < values.length && values[i] !== null && Number.isFinite(values[i] as number);
  return values.flatMap((_, i) => (has(i) && !has(i - 1) && !has(i + 1) ? [i] : []));
}

/**
 * A small hand-drawn SVG chart (no chart library: nothing to download or
 * hydrate). `kind="bars"` draws the first series as bars. The figure has a
 * text summary for screen readers; the fixed aspect ratio reserves its space.
 */
export function Chart({
  title, series, times, kind = "lines", unit = "", max: fixedMax, format = (v: number) => `${v}`, summary,
}: {
  title: string;
  series: Series[];
  times: string[];
  kind?: "lines" | "bars";
  unit?: string;
  max?: number;
  format?: (v: number) => string;
  summary: string;
}) {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const max = fixedMax ?? niceMax(Math.max(0, ...all));
  const n = times.length;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const ticks = [0, 0.5, 1].map((f) => f * max);
  const labelIdx = n > 1 ? [0, Math.floor((n - 1) / 2), n - 1] : [0];
  const empty = all.length === 0 || all.every((v) => v === 0);
  return (
    <figure className="chart">
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="legend">
          {series.map((s) => (
            <span key={s.name} className="legend-item">
              <span className={`swatch ${s.className}`} aria-hidden="true" /> {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. ${summary}`} preserveAspectRatio="none">
        {ticks.map((t) => {
          const y = PAD.top + (1 - t / max) * plotH;
          return (
            <g key={t}>
              <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} className="grid" />
              <text x={PAD.left - 4} y={y + 4} textAnchor="end" className="axis">
                {format(t)}
                {unit}
              </text>
            </g>
          );
        })}
        {kind === "bars" && series[0]
          ? series[0].values.map((v, i) => {
              if (!v) return null;
              const bw = plotW / Math.max(n, 1);
              const h = (v / max) * plotH;
              return <rect key={i} x={PAD.left + i * bw + bw * 0.1} y={PAD.top + plotH - h} width={Math.max(bw * 0.8, 0.5)} height={h} className={series[0].className} />;
            })
          : null}
        {series.slice(kind === "bars" ? 1 : 0).map((s) => (
          <g key={s.name}>
            <path d={linePath(s.values, max)} className={`line ${s.className}`} fill="none" />
            {isolated(s.values).map((i) => (
              <circle key={i} cx={PAD.left + (n <= 1 ? 0 : (i * plotW) / (n - 1))} cy={PAD.top + (1 - (s.values[i] as number) / max) * plotH} r={3} className={s.className} />
            ))}
          </g>
        ))}
        {labelIdx.map((i, k) =>
          times[i] ? (
            <text key={i} x={PAD.left + (n <= 1 ? 0 : (i * plotW) / (n - 1))} y={H - 6} textAnchor={k === 0 ? "start" : k === 2 ? "end" : "middle"} className="axis">
              {formatUtc(times[i]).slice(11, 16)} UTC
            </text>
          ) : null,
        )}
        {empty ? (
          <text x={PAD.left + plotW / 2} y={PAD.top + plotH / 2} textAnchor="middle" className="axis">
            No data in this window
          </text>
        ) : null}
      </svg>
    </figure>
  );
}
