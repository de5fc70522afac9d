import type { Metadata } from "next";
import Link from "next/link";
import { ResetPasswordForm } from "./reset-password-form";

export const metadata: Metadata = { title: "Choose a new password" };

// The page the reset mail links to: /reset-password?token=<token>.
export default async function ResetPasswordPage({ searchParams }: { searchParams: Promise<{ token?: string }> }) {
  const { token } = await searchParams;
  if (typeof token !== "string" || token === "") {
    return (
      <>
        <h1>Choose a new password</h1>
        <p>
          This page needs the link from the reset email. <Link href="/forgot-password">Request a new link</Link>.
        </p>
      </>
    );
  }
  return <ResetPasswordForm token={token} />;
}
