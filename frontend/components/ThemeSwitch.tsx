import { setTheme } from "@/lib/actions";

/** Light / dark / system, kept in a cookie so the server paints the right theme first. */
export function ThemeSwitch({ current }: { current: string }) {
  return (
    <form action={setTheme} className="row" aria-label="Theme">
      {(["light", "dark", "system"] as const).map((t) => (
        <button key={t} className="btn small" name="theme" value={t} aria-pressed={current === t} type="submit">
          {t === "light" ? "Light" : t === "dark" ? "Dark" : "Auto"}
        </button>
      ))}
    </form>
  );
}
