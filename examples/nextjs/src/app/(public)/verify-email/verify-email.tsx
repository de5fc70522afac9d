"use client";

import Link from "next/link";
import { useState } from "react";
import { EmailLinkForm } from "@/components/email-link-form";
import { FormError, Notice } from "@/components/field";
import { announceUser } from "@/components/signed-in";
import { api, type User } from "@/lib/client";

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
  return (
    <EmailLinkForm
      intro="Need a new link? Enter your email and we will send one."
      action="Send verification link"
      request={(email) => api.POST("/api/auth/send-verification-email", { body: { email } })}
    />
  );
}
