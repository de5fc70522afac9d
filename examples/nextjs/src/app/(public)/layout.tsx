import Link from "next/link";

// The pages a signed-out visitor sees: signin, signup, and the pages the mails link to.
export default function PublicLayout({ children }: { children: React.ReactNode }) {
  return (
    <>
      <header className="bar">
        <Link href="/tasks" className="brand">
          Todo
        </Link>
      </header>
      <main className="page narrow">{children}</main>
    </>
  );
}
