"use client";

import Link from "next/link";
import { useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { api } from "@/lib/client";
import { PASSWORD_ERRORS, place, text, type Errors } from "@/lib/forms";

export function ResetPasswordForm({ token }: { token: string }) {
  const [errors, setErrors] = useState<Errors<"password">>({});
  const [done, setDone] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    const { data, error } = await api.POST("/api/auth/reset-password", {
      body: { token, password: text(form, "password") },
    });
    setPending(false);
    if (error) {
      setErrors(place(error.error, { password: PASSWORD_ERRORS }));
      return;
    }
    // Every session of the account has ended: signing in again is the next step.
    setDone(data.message);
  }

  if (done) {
    return (
      <>
        <h1>Choose a new password</h1>
        <Notice message={done} />
        <p className="links">
          <Link href="/signin">Sign in</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Choose a new password</h1>
      <form onSubmit={submit} noValidate>
        <Field
          label="New password"
          name="password"
          type="password"
          autoComplete="new-password"
          hint="At least 8 characters"
          error={errors.password}
        />
        <FormError message={errors.form} />
        {errors.form === "Invalid or expired reset token" && (
          <p>
            <Link href="/forgot-password">Request a new link</Link>
          </p>
        )}
        <button type="submit" disabled={pending}>
          {pending ? "Saving…" : "Set new password"}
        </button>
      </form>
    </>
  );
}
