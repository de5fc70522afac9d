import type { Metadata } from "next";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Todo", template: "%s · Todo" },
  description: "A multi-user todo app on the todo API",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
