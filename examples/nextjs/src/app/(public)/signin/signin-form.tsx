"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { SendVerification } from "@/components/send-verification";
import { api } from "@/lib/client";
import { place, text, type Errors } from "@/lib/forms";

type Fields = "email" | "password";

/** The 403 of an unverified account under `EMAIL_VERIFICATION=required`. */
const NOT_VERIFIED = "Email not verified";

export function SigninForm({ notice }: { notice?: string }) {
  const router = useRouter();
  const [errors, setErrors] = useState<Errors<Fields>>({});
  const [pending, setPending] = useState(false);
  // The address that got "Email not verified", for a new link.
  const [unverified, setUnverified] = useState<string>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = text(form, "email");
    setPending(true);
    // The answer's `token` is left alone: the session is the HttpOnly cookie it also sets,
    // and the device is remembered by the `todo_device` cookie, which the browser keeps.
    const { error } = await api.POST("/api/auth/signin", { body: { email, password: text(form, "password") } });
    setPending(false);
    if (error) {
      // "Invalid email or password", "Email not verified" and 429 belong to the form.
      setErrors(place(error.error, { email: ["Email is required"], password: ["Password is required"] }));
      setUnverified(error.error === NOT_VERIFIED ? email : undefined);
      return;
    }
    router.replace("/tasks");
  }

  return (
    <>
      <h1>Sign in</h1>
      <Notice message={notice} />
      <form onSubmit={submit} noValidate>
        <Field label="Email" name="email" type="email" autoComplete="email" error={errors.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          error={errors.password}
        />
        <FormError message={errors.form} />
        {unverified && (
          <SendVerification key={unverified} email={unverified}>
            <p className="hint">Follow the link we mailed to {unverified}, then sign in.</p>
          </SendVerification>
        )}
        <button type="submit" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p className="links">
        <Link href="/forgot-password">Forgot your password?</Link>
        <Link href="/signup">Create an account</Link>
      </p>
    </>
  );
}
