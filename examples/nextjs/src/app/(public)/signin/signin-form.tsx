"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { api } from "@/lib/client";
import { place, text, type Errors } from "@/lib/forms";

type Fields = "email" | "password";

export function SigninForm({ notice }: { notice?: string }) {
  const router = useRouter();
  const [errors, setErrors] = useState<Errors<Fields>>({});
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    // The answer's `token` is left alone: the session is the HttpOnly cookie it also sets.
    const { error } = await api.POST("/api/auth/signin", {
      body: { email: text(form, "email"), password: text(form, "password") },
    });
    setPending(false);
    if (error) {
      // "Invalid email or password" and 429 belong to the form, not to one field.
      setErrors(place(error.error, { email: ["Email is required"], password: ["Password is required"] }));
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
        {errors.form === "Email not verified" && (
          <p>
            <Link href="/verify-email">Send a new verification link</Link>
          </p>
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
