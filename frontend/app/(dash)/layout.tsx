import Link from "next/link";
import { cookies } from "next/headers";
import { requireSession } from "@/lib/session";
import { NavLinks } from "@/components/NavLinks";
import { ThemeSwitch } from "@/components/ThemeSwitch";

export default async function DashboardLayout({ children }: { children: React.ReactNode }) {
  const session = await requireSession();
  const theme = (await cookies()).get("ef_theme")?.value ?? "system";
  const links = [
    ...(session.read ? [{ href: "/", label: "Overview" }, { href: "/events", label: "Events" }] : []),
    ...(session.read || session.admin ? (session.operator ? [] : [{ href: "/endpoints", label: "Endpoints" }]) : []),
    ...(session.admin ? [{ href: "/admin", label: "Admin" }] : []),
  ];
  return (
    <>
      <header className="topbar">
        <nav className="topbar-inner" aria-label="Main">
          <Link className="brand" href={session.read ? "/" : "/admin"}>
            EventFlow
          </Link>
          <NavLinks links={links} />
          <div className="topbar-right">
            <span className="muted small">{session.operator ? "Operator token" : `API key · ${[session.read && "read", session.admin && "admin"].filter(Boolean).join(", ")}`}</span>
            <ThemeSwitch current={theme} />
            <form method="post" action="/api/signout">
              <button className="btn small" type="submit">Sign out</button>
            </form>
          </div>
        </nav>
      </header>
      <main id="main">{children}</main>
    </>
  );
}
