// Package console is the Sightline Console: the web UI that `sightline up`
// serves at / and `sightline console` serves alone against a ClickHouse.
// Pages are rendered on the server (html/template) with charts drawn as
// SVG by Go code, so they work with JavaScript off; a small embedded
// script adds hover values, click-through on heatmap cells and live
// refresh. Every asset is embedded (go:embed): nothing is fetched from a
// CDN, and building it needs no npm.
//
// The Console reads through sinks/clickhouse only (it holds no SQL), runs
// its reads through a shared, time-bucketed cache so that open tabs
// refreshing every few seconds cost one query per view and interval, not
// one per tab, and validates every URL parameter before any read (a bad
// value is a message on the page, never a 500 or text in a query).
//
// It must never show event content (prompts, completions, context,
// reference, evidence, feedback comments) outside the call detail page,
// never let a browser cache a page (Cache-Control: no-store), and never
// serve content to a request its ContentGate refuses (by default: any
// request when the server listens beyond loopback, since Sightline has
// no authentication yet).
package console
