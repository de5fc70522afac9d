"use client";

import { useState, type FormEvent } from "react";
import { Field, FormError, Notice } from "@/components/field";
import { EMAIL_ERRORS, place, text, type Errors } from "@/lib/forms";

/** What asking for a mailed link answers: the API's message, or its error. */
type LinkAnswer = { data?: { message: string }; error?: { error: string } };

/**
 * A form that asks for a link by email (a reset, a verification): the email field with the
 * API's messages under it, then, once sent, the API's answer in place of the form (the
 * same whether or not the address has an account).
 */
export function EmailLinkForm({
  intro,
  action,
  request,
}: {
  intro: string;
  action: string;
  request: (email: string) => Promise<LinkAnswer>;
}) {
  const [errors, setErrors] = useState<Errors<"email">>({});
  const [sent, setSent] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    const { data, error } = await request(text(form, "email"));
    setPending(false);
    if (error) {
      setErrors(place(error.error, { email: EMAIL_ERRORS }));
      return;
    }
    setSent(data?.message);
  }

  return sent ? (
    <Notice message={sent} />
  ) : (
    <form onSubmit={submit} noValidate>
      <p>{intro}</p>
      <Field label="Email" name="email" type="email" autoComplete="email" error={errors.email} />
      <FormError message={errors.form} />
      <button type="submit" disabled={pending}>
        {pending ? "Sending…" : action}
      </button>
    </form>
  );
}
