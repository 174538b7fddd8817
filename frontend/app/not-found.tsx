import Link from "next/link";

export default function NotFound() {
  return (
    <main id="main">
      <h1>Page not found</h1>
      <p>There is nothing at this address. Go to the <Link href="/">overview</Link> or the <Link href="/events">events</Link>.</p>
    </main>
  );
}
