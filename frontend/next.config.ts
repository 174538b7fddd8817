import type { NextConfig } from "next";

// One folder (.next/standalone) is all the container copies; nothing is
// fetched at build or run time beyond the npm packages.
const config: NextConfig = {
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
  // The dashboard lives in its own folder of the Rust workspace.
  outputFileTracingRoot: __dirname,
};

export default config;
