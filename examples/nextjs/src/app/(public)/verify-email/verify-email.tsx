"use client";

import Link from "next/link";
import { useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { announceUser } from "@/components/signed-in";
import { api, type User } from "@/lib/client";
import { EMAIL_ERRORS, place, text, type Errors } from "@/lib/forms";

const INVALID_TOKEN = "Invalid or expired verification token";

export function VerifyEmail({ token }: { token?: string }) {
  const [verified, setVerified] = useState<{ message: string; user: User }>();
  const [failed, setFailed] = useState<string>();
  const [pending, setPending] = useState(false);

  // A button rather than a request on load: the token is single use, and a link preview
  // or a second render must not spend it.
  async function verify() {
    if (!token) return;
    setPending(true);
    const { data, error } = await api.POST("/api/auth/verify-email", { body: { token } });
    setPending(false);
    if (error) {
      setFailed(error.error);
      return;
    }
    setVerified(data);
    // A page of this user's open in another tab shows the verified (or new) address now.
    announceUser(data.user);
  }

  if (verified) {
    return (
      <>
        <h1>Verify your email</h1>
        <Notice message={verified.message} />
        <p>
          <strong>{verified.user.email}</strong> is the address of your account.
        </p>
        <p className="links">
          <Link href="/account">Go to your account</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Verify your email</h1>
      {token && !failed && (
        <>
          <p>Confirm that this email address is yours.</p>
          <button type="button" onClick={verify} disabled={pending}>
            {pending ? "Verifying…" : "Verify email"}
          </button>
        </>
      )}
      <FormError message={failed} />
      {/* "Email already registered": the new address of a change was taken meanwhile. */}
      {failed && failed !== INVALID_TOKEN && (
        <p className="links">
          <Link href="/account">Go to your account</Link>
        </p>
      )}
      {(!token || failed === INVALID_TOKEN) && <ResendForm />}
    </>
  );
}

function ResendForm() {
  const [errors, setErrors] = useState<Errors<"email">>({});
  const [sent, setSent] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    const { data, error } = await api.POST("/api/auth/send-verification-email", {
      body: { email: text(form, "email") },
    });
    setPending(false);
    if (error) {
      setErrors(place(error.error, { email: EMAIL_ERRORS }));
      return;
    }
    setSent(data.message);
  }

  return sent ? (
    <Notice message={sent} />
  ) : (
    <form onSubmit={submit} noValidate>
      <p>Need a new link? Enter your email and we will send one.</p>
      <Field label="Email" name="email" type="email" autoComplete="email" error={errors.email} />
      <FormError message={errors.form} />
      <button type="submit" disabled={pending}>
        {pending ? "Sending…" : "Send verification link"}
      </button>
    </form>
  );
}
