package console

import (
	"fmt"
	"net"
	"net/http"
)

// ContentGate decides whether a request may see event content (prompts,
// completions, context, reference, evidence and feedback comments: the
// call detail page). An error refuses it and says why; the Console shows
// that text. Authentication replaces the default gate with one that
// checks the request's key.
type ContentGate interface {
	AllowContent(r *http.Request) error
}

// LoopbackOnly allows content only when the server listens on a loopback
// address: with no authentication, anyone who can reach a wider address
// could read personal data.
type LoopbackOnly struct {
	// ListenAddr is the server's listening address (host:port).
	ListenAddr string
}

// AllowContent implements ContentGate.
func (g LoopbackOnly) AllowContent(*http.Request) error {
	if IsLoopback(g.ListenAddr) {
		return nil
	}
	return fmt.Errorf("this server listens on %s, which is reachable beyond this machine, and Sightline has no authentication yet: "+
		"prompts and completions are personal data, so the Console shows scores and labels only. Listen on a loopback address "+
		"(http_addr: 127.0.0.1:8088, or --http-addr) and reach it through an SSH tunnel or an authenticating proxy to see content",
		g.ListenAddr)
}

// IsLoopback reports whether a listening address accepts loopback
// connections only ("localhost" or a loopback IP; an empty host or
// 0.0.0.0 listens everywhere).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
