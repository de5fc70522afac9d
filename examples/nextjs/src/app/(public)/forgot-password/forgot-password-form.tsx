"use client";

import Link from "next/link";
import { useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { api } from "@/lib/client";
import { EMAIL_ERRORS, place, text, type Errors } from "@/lib/forms";

export function ForgotPasswordForm() {
  const [errors, setErrors] = useState<Errors<"email">>({});
  const [sent, setSent] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    const { data, error } = await api.POST("/api/auth/forgot-password", {
      body: { email: text(form, "email") },
    });
    setPending(false);
    if (error) {
      setErrors(place(error.error, { email: EMAIL_ERRORS }));
      return;
    }
    // The same answer whether or not the address has an account.
    setSent(data.message);
  }

  return (
    <>
      <h1>Forgot your password?</h1>
      {sent ? (
        <Notice message={sent} />
      ) : (
        <form onSubmit={submit} noValidate>
          <p>Enter the email you signed up with and we will mail you a link to choose a new password.</p>
          <Field label="Email" name="email" type="email" autoComplete="email" error={errors.email} />
          <FormError message={errors.form} />
          <button type="submit" disabled={pending}>
            {pending ? "Sending…" : "Send reset link"}
          </button>
        </form>
      )}
      <p className="links">
        <Link href="/signin">Back to sign in</Link>
      </p>
    </>
  );
}
