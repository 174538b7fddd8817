"use client";
import { useRouter } from "next/navigation";
import { useEffect } from "react";

/**
 * Re-renders the page's server components every `ms` while the tab is visible.
 * React reconciles the new tree in place, so nothing flickers.
 */
export function AutoRefresh({ ms, label }: { ms: number; label?: string }) {
  const router = useRouter();
  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === "visible") router.refresh();
    };
    const id = window.setInterval(tick, ms);
    return () => window.clearInterval(id);
  }, [ms, router]);
  return label ? (
    <span className="muted small" role="status">
      <span className="pulse" aria-hidden="true" /> {label}
    </span>
  ) : null;
}
