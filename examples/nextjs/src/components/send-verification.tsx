"use client";

import { useState } from "react";
import { FormError, Notice } from "@/components/field";
import { api } from "@/lib/client";

/**
 * A button that mails a fresh verification link to `email` (older links stop working), and
 * the API's answer: the same message whether or not the address needs one.
 */
export function SendVerification({ email, children }: { email: string; children?: React.ReactNode }) {
  const [answer, setAnswer] = useState<{ message?: string; error?: string }>({});
  const [pending, setPending] = useState(false);

  async function send() {
    setPending(true);
    const { data, error } = await api.POST("/api/auth/send-verification-email", { body: { email } });
    setPending(false);
    setAnswer({ message: data?.message, error: error?.error });
  }

  return (
    <div className="stack">
      {children}
      <button type="button" className="secondary" onClick={send} disabled={pending}>
        Send verification email
      </button>
      <FormError message={answer.error} />
      <Notice message={answer.message} />
    </div>
  );
}
