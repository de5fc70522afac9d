import { SignedIn } from "@/components/signed-in";

export default function AppLayout({ children }: { children: React.ReactNode }) {
  return <SignedIn>{children}</SignedIn>;
}
