"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Field, FormError } from "@/components/field";
import { api } from "@/lib/client";
import { EMAIL_ERRORS, NAME_ERRORS, PASSWORD_ERRORS, place, text, type Errors } from "@/lib/forms";

type Fields = "name" | "email" | "password";

export function SignupForm() {
  const router = useRouter();
  const [errors, setErrors] = useState<Errors<Fields>>({});
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    // Signed in by the cookie the answer sets; its `token` and `device_token` are not kept.
    const { error } = await api.POST("/api/auth/signup", {
      body: { name: text(form, "name"), email: text(form, "email"), password: text(form, "password") },
    });
    setPending(false);
    if (error) {
      setErrors(place(error.error, { name: NAME_ERRORS, email: EMAIL_ERRORS, password: PASSWORD_ERRORS }));
      return;
    }
    router.replace("/tasks");
  }

  return (
    <>
      <h1>Create an account</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Name" name="name" autoComplete="name" error={errors.name} />
        <Field label="Email" name="email" type="email" autoComplete="email" error={errors.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          hint="At least 8 characters"
          error={errors.password}
        />
        <FormError message={errors.form} />
        <button type="submit" disabled={pending}>
          {pending ? "Creating your account…" : "Create account"}
        </button>
      </form>
      <p className="links">
        <Link href="/signin">Already have an account? Sign in</Link>
      </p>
    </>
  );
}
