import type { NextConfig } from "next";

// The API is reached through src/proxy.ts, not `rewrites` here: rewrites are written into
// .next/routes-manifest.json at build time, so one build could only ever call one API_URL.
const nextConfig: NextConfig = {
  poweredByHeader: false,
};

export default nextConfig;
