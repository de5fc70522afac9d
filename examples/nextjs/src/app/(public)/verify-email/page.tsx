import type { Metadata } from "next";
import { VerifyEmail } from "./verify-email";

export const metadata: Metadata = { title: "Verify your email" };

// The page the verification mail links to: /verify-email?token=<token>. Without a token
// (or with a spent one) it offers to send a new link.
export default async function VerifyEmailPage({ searchParams }: { searchParams: Promise<{ token?: string }> }) {
  const { token } = await searchParams;
  return <VerifyEmail token={typeof token === "string" && token !== "" ? token : undefined} />;
}
