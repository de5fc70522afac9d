import type { Metadata } from "next";
import { SigninForm } from "./signin-form";

export const metadata: Metadata = { title: "Sign in" };

// Where other pages send the visitor after an account-wide change.
const NOTICES: Record<string, string> = {
  deleted: "Account deleted",
  "signed-out-everywhere": "Signed out on every device",
};

export default async function SigninPage({ searchParams }: { searchParams: Promise<{ notice?: string }> }) {
  const { notice } = await searchParams;
  return <SigninForm notice={notice ? NOTICES[notice] : undefined} />;
}
