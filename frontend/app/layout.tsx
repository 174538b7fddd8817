import type { Metadata, Viewport } from "next";
import { cookies } from "next/headers";
import "./globals.css";
import { Hydrated } from "@/components/Hydrated";

export const metadata: Metadata = {
  title: { default: "EventFlow", template: "%s · EventFlow" },
  description: "See and act on what EventFlow did with your events.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export const THEME_COOKIE = "ef_theme";

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // The theme is chosen on the server from a cookie, so the first paint is right.
  const theme = (await cookies()).get(THEME_COOKIE)?.value;
  return (
    <html lang="en" data-theme={theme === "light" || theme === "dark" ? theme : undefined}>
      <body>
        <a className="skip" href="#main">Skip to content</a>
        {children}
        <Hydrated />
      </body>
    </html>
  );
}
