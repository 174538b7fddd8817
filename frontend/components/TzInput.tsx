"use client";
import { useEffect, useState } from "react";

/**
 * A hidden field carrying the viewer's UTC offset (minutes east), so the server
 * reads `datetime-local` values in the viewer's zone. Without JavaScript it stays
 * at the value given (UTC by default).
 */
export function TzInput({ initial = "0" }: { initial?: string }) {
  const [value, setValue] = useState(initial);
  useEffect(() => setValue(String(-new Date().getTimezoneOffset())), []);
  return <input type="hidden" name="tz" value={value} />;
}
