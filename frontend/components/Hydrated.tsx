"use client";
import { useEffect } from "react";

/** Marks the document once React has hydrated it: the moment the page answers input (the perf script waits for it). */
export function Hydrated() {
  useEffect(() => {
    document.documentElement.dataset.hydrated = String(Math.round(performance.now()));
  }, []);
  return null;
}
