// Preloaded into the conformance suite (NODE_OPTIONS=--import=<this file>) by
// slipway_mcp_conformance: @modelcontextprotocol/conformance 0.1.10 has no option for request
// headers, and the contexts server refuses requests without a bearer token. Every request the
// suite makes goes through the global fetch (the SDK client transport and its raw requests), so
// this adds `Authorization: Bearer $MCP_CONFORMANCE_BEARER_TOKEN` to the requests for
// $MCP_CONFORMANCE_ORIGIN, and to no other origin. Nothing else in a request is changed.
const token = process.env.MCP_CONFORMANCE_BEARER_TOKEN;
const origin = process.env.MCP_CONFORMANCE_ORIGIN;

if (token && origin) {
  const upstream = globalThis.fetch;
  globalThis.fetch = (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== origin) {
      return upstream(input, init);
    }
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("authorization", `Bearer ${token}`);
    return upstream(input, { ...init, headers });
  };
}
