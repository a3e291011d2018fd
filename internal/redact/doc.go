// Package redact masks secrets in what Sightline stores, logs and serves
// about the outside world: the URLs of receivers and judges (query
// tokens, user info, webhook path secrets), header values (Authorization,
// API keys, cookies, signatures) and the error texts and response bodies
// that quote them. Go's *url.Error prints the full request URL, and a
// receiver may echo the request's URL and headers in its error answer; both
// end up in llm_alerts, llm_jobs, llm_evaluations, logs and the read API
// unless they pass through here first.
//
// What it keeps: the scheme, host and port of every URL, the path
// (except segments that are secrets: Slack, Discord, Teams and Telegram
// webhook tokens and long random-looking segments), query parameter names,
// header names and authorization schemes ("Bearer ***"), so an operator can
// still tell which receiver failed and how. What it masks, with "***": query
// values, user info, fragments, those path segments, the values of
// sensitive headers and of name=value / "name": "value" pairs whose name
// says secret (token, secret, password, key, signature, cookie,
// authorization), and values a caller declares as secrets (Secrets).
//
// What it must never do: return text containing a masked value, lose the
// host of a URL, panic on any input, or change its own output (every
// function here is idempotent, so redacting twice — at the source and again
// where a row is written — is safe). It is a last line of defence, not a
// parser: it may mask more than needed (an id that looks random), never
// less for the forms it knows.
package redact
