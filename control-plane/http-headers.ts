/** Headers every API answer carries (set by the app's onSend hook, and by routes that write their own answer). */

/** The Content-Security-Policy of an API answer: nothing may load, frame or run it. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
