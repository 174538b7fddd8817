"use client";
import { useState } from "react";

/** Copies `text` to the clipboard and says so to sighted and screen-reader users alike. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState<null | "ok" | "fail">(null);
  return (
    <button
      type="button"
      className="btn small"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setDone("ok");
        } catch {
          setDone("fail");
        }
        window.setTimeout(() => setDone(null), 2000);
      }}
    >
      {label}
      <span aria-live="polite" className="copy-state">{done === "ok" ? " ✓ copied" : done === "fail" ? " – select and copy by hand" : ""}</span>
    </button>
  );
}
