package auth

import (
	"fmt"
	"net"
	"strings"
)

// Listener is an address a process listens on, named by its setting.
type Listener struct {
	Setting string // e.g. "http_addr", "otlp.grpc_addr"
	Addr    string
}

// IsLoopback reports whether a listening address accepts loopback
// connections only ("localhost" or a loopback IP; an empty host, 0.0.0.0,
// :: or a host name listen beyond this machine).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckExposure refuses to listen beyond loopback without authentication
// unless the configuration says insecure, and says why.
func CheckExposure(c Config, ls ...Listener) error {
	if c.Enabled || c.Insecure {
		return nil
	}
	var open []string
	for _, l := range ls {
		if !IsLoopback(l.Addr) {
			open = append(open, fmt.Sprintf("%s %s", l.Setting, l.Addr))
		}
	}
	if len(open) == 0 {
		return nil
	}
	return fmt.Errorf("cannot start: %s reachable beyond this machine and authentication is off, so anyone who can reach it "+
		"could read prompts and completions (personal data) and write events under any tenant. Turn authentication on "+
		"(auth.enabled: true, then create keys with `sightline keys create`), listen on 127.0.0.1, or pass --insecure "+
		"(auth.insecure: true) if something in front of Sightline authenticates every request", listJoin(open))
}

func listJoin(s []string) string {
	if len(s) == 1 {
		return s[0] + " is"
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1] + " are"
}
