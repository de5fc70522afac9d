"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useId, useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { SendVerification } from "@/components/send-verification";
import { useCurrentUser } from "@/components/signed-in";
import { api, type Session } from "@/lib/client";
import {
  CONFIRM_PASSWORD_ERRORS,
  CURRENT_PASSWORD_ERRORS,
  EMAIL_ERRORS,
  NAME_ERRORS,
  NEW_PASSWORD_ERRORS,
  place,
  text,
  type Errors,
} from "@/lib/forms";

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function Account() {
  const [sessionsVersion, setSessionsVersion] = useState(0);
  return (
    <>
      <h1>Account</h1>
      <Profile />
      <Email />
      <ChangePassword onChanged={() => setSessionsVersion((v) => v + 1)} />
      <Sessions version={sessionsVersion} />
      <DeleteAccount />
    </>
  );
}

/** A titled part of the page (a landmark named by its heading). */
function Section({ title, children }: { title: string; children: React.ReactNode }) {
  const id = useId();
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** The state of one form: its errors (placed by `fields`), its success message, and whether it is sending. */
function useForm<F extends string>(fields: Record<F, readonly string[]>) {
  const [errors, setErrors] = useState<Errors<F>>({});
  const [done, setDone] = useState<string>();
  const [pending, setPending] = useState(false);
  const run = async (call: () => Promise<{ error?: { error: string }; message?: string }>) => {
    setPending(true);
    setDone(undefined);
    const { error, message } = await call();
    setPending(false);
    setErrors(error ? place(error.error, fields) : {});
    setDone(message);
    return !error;
  };
  return { errors, done, pending, run };
}

function Profile() {
  const { user, setUser } = useCurrentUser();
  const form = useForm({ name: NAME_ERRORS });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = text(new FormData(event.currentTarget), "name");
    await form.run(async () => {
      const { data, error } = await api.PATCH("/api/auth/user", { body: { name } });
      if (data) setUser(data.user);
      return { error, message: data && "Name saved" };
    });
  }

  return (
    <Section title="Profile">
      <p>
        Signed in as <strong>{user.name}</strong> ({user.email})
      </p>
      <form onSubmit={submit} noValidate>
        <Field label="Name" name="name" autoComplete="name" defaultValue={user.name} error={form.errors.name} />
        <FormError message={form.errors.form} />
        <Notice message={form.done} />
        <button type="submit" disabled={form.pending}>
          Save name
        </button>
      </form>
    </Section>
  );
}

function Email() {
  const { user } = useCurrentUser();
  const form = useForm({ new_email: EMAIL_ERRORS, password: CONFIRM_PASSWORD_ERRORS });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const values = new FormData(formElement);
    const body = { new_email: text(values, "new_email"), password: text(values, "password") };
    // Nothing changes until the link mailed to the new address is followed (/verify-email);
    // that page tells this one, which then shows the new address.
    const sent = await form.run(async () => {
      const { data, error } = await api.POST("/api/auth/change-email", { body });
      return { error, message: data?.message };
    });
    if (sent) formElement.reset();
  }

  return (
    <Section title="Email">
      <p className="email-status">
        <strong>{user.email}</strong>{" "}
        <span className={user.email_verified ? "badge ok" : "badge"}>
          {user.email_verified ? "Verified" : "Not verified"}
        </span>
      </p>
      {!user.email_verified && <SendVerification email={user.email} />}
      <form onSubmit={submit} noValidate aria-label="Change email">
        <p className="hint">
          We mail a link to the new address; your email changes when it is followed. Changing your password
          cancels a pending change of email.
        </p>
        <Field label="New email" name="new_email" type="email" autoComplete="email" error={form.errors.new_email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          error={form.errors.password}
        />
        <FormError message={form.errors.form} />
        <Notice message={form.done} />
        <button type="submit" disabled={form.pending}>
          Change email
        </button>
      </form>
    </Section>
  );
}

function ChangePassword({ onChanged }: { onChanged: () => void }) {
  const form = useForm({ current_password: CURRENT_PASSWORD_ERRORS, new_password: NEW_PASSWORD_ERRORS });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const values = new FormData(formElement);
    const body = { current_password: text(values, "current_password"), new_password: text(values, "new_password") };
    const changed = await form.run(async () => {
      const { data, error } = await api.POST("/api/auth/change-password", { body });
      return { error, message: data?.message };
    });
    if (changed) {
      formElement.reset();
      // Every other session has ended.
      onChanged();
    }
  }

  return (
    <Section title="Password">
      <form onSubmit={submit} noValidate>
        <p className="hint">
          Changing it signs out your other devices and cancels any pending change of email and any reset link.
        </p>
        <Field
          label="Current password"
          name="current_password"
          type="password"
          autoComplete="current-password"
          error={form.errors.current_password}
        />
        <Field
          label="New password"
          name="new_password"
          type="password"
          autoComplete="new-password"
          hint="At least 8 characters"
          error={form.errors.new_password}
        />
        <FormError message={form.errors.form} />
        <Notice message={form.done} />
        <button type="submit" disabled={form.pending}>
          Change password
        </button>
      </form>
    </Section>
  );
}

function Sessions({ version }: { version: number }) {
  const router = useRouter();
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [failure, setFailure] = useState<string>();

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/auth/sessions");
    if (data) setSessions(data.sessions);
    setFailure(error?.error);
  }, []);

  useEffect(() => {
    load();
  }, [load, version]);

  async function revoke(session: Session) {
    const { error } = await api.DELETE("/api/auth/sessions/{session_id}", {
      params: { path: { session_id: session.id } },
    });
    await load();
    if (error) setFailure(error.error);
  }

  async function signOutEverywhere() {
    const { error } = await api.POST("/api/auth/signout", { params: { query: { scope: "global" } } });
    if (error) {
      setFailure(error.error);
      return;
    }
    router.replace("/signin?notice=signed-out-everywhere");
  }

  return (
    <Section title="Sessions">
      <p>Every device signed in to your account.</p>
      <FormError message={failure} />
      {sessions === null ? (
        <p aria-busy="true">Loading…</p>
      ) : (
        <ul className="sessions" aria-label="Sessions">
          {sessions.map((session) => {
            const signedIn = when.format(new Date(session.created_at));
            return (
              <li key={session.id}>
                <div>
                  <strong>{session.current ? "This device" : "Another device"}</strong>
                  <span className="meta">
                    Signed in {signedIn} · expires {when.format(new Date(session.expires_at))}
                  </span>
                </div>
                {!session.current && (
                  <button
                    type="button"
                    className="secondary"
                    aria-label={`Revoke the session signed in ${signedIn}`}
                    onClick={() => revoke(session)}
                  >
                    Revoke
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <button type="button" className="secondary" onClick={signOutEverywhere}>
        Sign out everywhere
      </button>
    </Section>
  );
}

function DeleteAccount() {
  const router = useRouter();
  const form = useForm({ password: CONFIRM_PASSWORD_ERRORS });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const password = text(new FormData(event.currentTarget), "password");
    const deleted = await form.run(async () => {
      const { error } = await api.DELETE("/api/auth/user", { body: { password } });
      return { error };
    });
    if (deleted) router.replace("/signin?notice=deleted");
  }

  return (
    <Section title="Delete account">
      <p>Your account, every task and every session are deleted. This cannot be undone.</p>
      <form onSubmit={submit} noValidate>
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          error={form.errors.password}
        />
        <FormError message={form.errors.form} />
        <button type="submit" className="danger" disabled={form.pending}>
          Delete account
        </button>
      </form>
    </Section>
  );
}
