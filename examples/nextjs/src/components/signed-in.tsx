"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { createContext, useContext, useEffect, useState } from "react";
import { api, type User } from "@/lib/client";

type Current = { user: User; setUser: (user: User) => void };

const CurrentUser = createContext<Current | null>(null);

/** The signed-in user, inside <SignedIn>. */
export function useCurrentUser(): Current {
  const current = useContext(CurrentUser);
  if (!current) throw new Error("useCurrentUser outside <SignedIn>");
  return current;
}

const USER_CHANNEL = "todo-user";

/**
 * Tells this browser's other tabs that `user` changed, so a signed-in page shows what the
 * API now holds: the mailed link is usually opened in a new tab (/verify-email).
 */
export function announceUser(user: User) {
  if (typeof BroadcastChannel === "undefined") return;
  const channel = new BroadcastChannel(USER_CHANNEL);
  channel.postMessage(user);
  channel.close();
}

/**
 * The pages of a signed-in user. Who that is comes from GET /api/auth/session, which the
 * session cookie authenticates; a 401 sends the visitor to /signin (see lib/client.ts).
 */
export function SignedIn({ children }: { children: React.ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [failure, setFailure] = useState<string>();

  useEffect(() => {
    let live = true;
    api.GET("/api/auth/session").then(({ data, error }) => {
      if (!live) return;
      if (data) setUser(data.user);
      else if (error && error.error !== "Authentication required") setFailure(error.error);
    });
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    if (typeof BroadcastChannel === "undefined") return;
    const channel = new BroadcastChannel(USER_CHANNEL);
    // Only news about the user signed in here: a link may be someone else's.
    channel.onmessage = ({ data }: MessageEvent<User>) =>
      setUser((current) => (current && current.id === data.id ? data : current));
    return () => channel.close();
  }, []);

  if (!user) {
    return (
      <main className="page">
        {failure ? (
          <p className="form-error" role="alert">
            {failure}
          </p>
        ) : (
          <p aria-busy="true">Loading…</p>
        )}
      </main>
    );
  }
  return (
    <CurrentUser value={{ user, setUser }}>
      <Header />
      <main className="page">{children}</main>
    </CurrentUser>
  );
}

function Header() {
  const router = useRouter();
  const pathname = usePathname();

  async function signOut() {
    await api.POST("/api/auth/signout");
    router.replace("/signin");
  }

  return (
    <header className="bar">
      <Link href="/tasks" className="brand">
        Todo
      </Link>
      <nav aria-label="Main">
        <Link href="/tasks" aria-current={pathname === "/tasks" ? "page" : undefined}>
          Tasks
        </Link>
        <Link href="/account" aria-current={pathname === "/account" ? "page" : undefined}>
          Account
        </Link>
        <button type="button" className="link" onClick={signOut}>
          Sign out
        </button>
      </nav>
    </header>
  );
}
