"use client";

import Link from "next/link";
import { EmailLinkForm } from "@/components/email-link-form";
import { api } from "@/lib/client";

export function ForgotPasswordForm() {
  return (
    <>
      <h1>Forgot your password?</h1>
      <EmailLinkForm
        intro="Enter the email you signed up with and we will mail you a link to choose a new password."
        action="Send reset link"
        request={(email) => api.POST("/api/auth/forgot-password", { body: { email } })}
      />
      <p className="links">
        <Link href="/signin">Back to sign in</Link>
      </p>
    </>
  );
}
