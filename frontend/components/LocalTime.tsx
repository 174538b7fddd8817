"use client";
import { useEffect, useState } from "react";
import { formatLocal, formatUtc } from "@/lib/format";

/**
 * A time in the viewer's zone, with UTC on hover. The server renders UTC text
 * of the same width, so swapping in the local text shifts nothing.
 */
export function LocalTime({ iso }: { iso: string }) {
  const [text, setText] = useState(() => formatUtc(iso));
  useEffect(() => setText(formatLocal(iso)), [iso]);
  return (
    <time dateTime={iso} title={formatUtc(iso)} className="nowrap tabular">
      {text}
    </time>
  );
}
